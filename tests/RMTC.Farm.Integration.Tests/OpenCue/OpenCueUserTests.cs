using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Integration.Tests.Security;

namespace RMTC.Farm.Integration.Tests.OpenCue;

/// <summary>
/// Who an OpenCue action is recorded under, on a coordinator with wrangler tokens and a listed submit host: the
/// wrangler of a token the call presents, else the user the message names (kills, comments), else the caller's
/// address. Asked with grpcio as pycue asks, plus the bearer token a site's wrapper would add.
/// </summary>
public sealed class OpenCueUserTests
{
    private const string JobName = "alpha-train-alice_train_classifier";

    [Fact]
    public async Task Actions_are_recorded_under_the_token_s_wrangler_else_the_user_the_call_names_else_the_address()
    {
        await using var farm = await SecureFarm.StartAsync(new Dictionary<string, string?>
        {
            ["Coordinator:OpenCuePort"] = "0",
            ["Coordinator:OpenCueListenAddress"] = "127.0.0.2",
            ["Coordinator:OpenCueSubmitHosts:0:Addresses:0"] = "127.0.0.1",
            ["Coordinator:OpenCueSubmitHosts:0:Shows:0"] = "alpha",
            ["Coordinator:OpenCueSubmitHosts:0:Shows:1"] = "beta",
        });
        var spec = Path.Combine(farm.Root, "alpha.xml");
        await File.WriteAllTextAsync(spec, $"""
            <?xml version="1.0"?>
            <!DOCTYPE spec PUBLIC "SPI Cue  Specification Language" "http://localhost:8080/spcue/dtd/cjsl-1.15.dtd">
            <spec>
              <facility>local</facility><show>alpha</show><shot>train</shot><user>alice</user><uid>1000</uid>
              <job name="train-classifier">
                <paused>True</paused><priority>1</priority><maxretries>2</maxretries><autoeat>False</autoeat><env />
                <layers>
                  <layer name="train" type="Render">
                    <cmd>rmtc train --recipe classifier --dataset {farm.Synthesize()} --rounds 1 --epochs 1 --batch-size 16</cmd>
                    <range>1-2</range><chunk>1</chunk><memory>1g</memory>
                    <services><service>shell</service></services><outputs />
                  </layer>
                </layers>
              </job>
              <depends />
            </spec>
            """);
        var address = $"{farm.App.OpenCueAddress()!.Host}:{farm.App.OpenCueAddress()!.Port}";
        var id = (await CallsAsync(address, $"launch={spec}", $"find={JobName}"))[1]["find ok ".Length..];

        var lines = await CallsAsync(address,
            // pycue: setPriority names nobody, so the address stands in.
            $"setpriority={id}@3",
            // A token names its wrangler; a comment's claimed user (alice) gives way to it.
            $"token={SecureFarm.AliceToken}", $"setmaxretries={id}@4",
            $"token={SecureFarm.AdminToken}", $"comment={id}@seeds@seed 5",
            // A token of another show's wrangler, or no token of this farm, is refused.
            $"token={SecureFarm.BobToken}", $"setpriority={id}@9",
            "token=not-a-token", $"setpriority={id}@9",
            // No token: a kill is recorded under the username pycue sends.
            "token=", $"kill={id}");
        Assert.Equal(["setpriority ok", "token ok", "setmaxretries ok", "token ok", "comment ok", "token ok"], lines[..6]);
        Assert.Equal($"setpriority PERMISSION_DENIED cannot set the priority of job '{JobName}' ({id}): it is in show 'alpha', and the wrangler token presented (bob) is for beta only", lines[6]);
        Assert.Equal("setpriority UNAUTHENTICATED the token presented is not a wrangler token of this farm (not in Coordinator:WranglerTokensFile): OpenCue calls need none, so leave it out, or check it", lines[8]);
        Assert.Equal(["token ok", "kill ok"], lines[9..]);

        await farm.Scheduler.FlushAsync();
        var events = await farm.App.Services.GetRequiredService<IRunStore>().ReadEventsAsync(id);
        string By(string kind) => events.Single(e => e.Kind == kind).Data["by"]!.GetValue<string>();
        string Via(string kind) => events.Single(e => e.Kind == kind).Data["via"]!.GetValue<string>();
        Assert.Equal("an OpenCue client at 127.0.0.1", By("priority-changed"));
        Assert.Equal("OpenCue from 127.0.0.1", Via("priority-changed"));
        Assert.Equal("alice", By("max-retries-changed"));
        Assert.Equal("OpenCue from 127.0.0.1 (wrangler token of alice)", Via("max-retries-changed"));
        var manifest = farm.Scheduler.GetManifest(id)!;
        Assert.Equal((3, 4), (manifest.Controls!.Priority, manifest.Controls.MaxRetries));
        var comment = Assert.Single(manifest.Comments!);
        Assert.Equal("root", comment.User);
        Assert.Equal("OpenCue from 127.0.0.1 (wrangler token of root, the call names user alice)", events.Single(e => e.Kind == "comment-added").Data["via"]!.GetValue<string>());
        Assert.Equal("killed by mallory via OpenCue from 127.0.0.1: probe", manifest.Error);
    }

    private static async Task<string[]> CallsAsync(string address, params string[] calls) => [.. await PycueCalls.RunAsync(address, calls)];
}
