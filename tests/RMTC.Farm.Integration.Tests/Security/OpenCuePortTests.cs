using RMTC.Farm.Core.Lineage;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Integration.Tests.OpenCue;
using RMTC.Farm.Protos.V1;
using CueGetSystemStatsRequest = RMTC.Farm.Protos.OpenCue.CueGetSystemStatsRequest;
using CueInterface = RMTC.Farm.Protos.OpenCue.CueInterface;

namespace RMTC.Farm.Integration.Tests.Security;

/// <summary>
/// The OpenCue port on a coordinator that requires tokens: off unless submit hosts are listed, then open to those
/// addresses only and only for their shows. Each checked with a pycue-style grpcio client.
/// </summary>
public sealed class OpenCuePortTests
{
    private const string SubmitHostAddress = "Coordinator:OpenCueSubmitHosts:0:Addresses:0";
    private const string SubmitHostShow = "Coordinator:OpenCueSubmitHosts:0:Shows:0";

    [Fact]
    public async Task With_tokens_the_opencue_port_is_off_unless_submit_hosts_are_listed_and_the_start_up_report_names_what_is_open()
    {
        var dir = Directory.CreateTempSubdirectory("rmtc-sec-opencue-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "farm-token"), SecureFarm.FarmToken + "\n");
            await File.WriteAllTextAsync(Path.Combine(dir, "wranglers.json"), $$"""
                { "tokens": [ { "token": "{{SecureFarm.AdminToken}}", "user": "root", "role": "admin" } ] }
                """);
            var tokens = new Dictionary<string, string>
            {
                ["RMTC_Coordinator__AgentTokenFile"] = Path.Combine(dir, "farm-token"),
                ["RMTC_Coordinator__WranglerTokensFile"] = Path.Combine(dir, "wranglers.json"),
            };

            // Tokens on, nothing said about OpenCue: the default port is not even bound.
            var closedPort = CoordinatorProcess.FreePort();
            using (var closed = await CoordinatorProcess.StartAsync(Path.Combine(dir, "a"), CoordinatorProcess.FreePort(), environment: new Dictionary<string, string>(tokens)
            {
                ["RMTC_Coordinator__OpenCuePort"] = closedPort.ToString(CultureInfo.InvariantCulture),
            }))
            {
                // Two log lines (the warning and the start-up report), written in either order: wait for both.
                await FarmFixture.WaitUntilAsync(() => closed.Output.Contains("The OpenCue port is off") && closed.Output.Contains("OpenCue: off"), TimeSpan.FromSeconds(30), () => closed.Output);
                Assert.Contains("OpenCue: off", closed.Output);
                Assert.Contains("Coordinator:OpenCueSubmitHosts", closed.Output);
                var refused = Assert.Single(await PycueCalls.RunAsync($"127.0.0.1:{closedPort}", "stats"));
                Assert.StartsWith("stats UNAVAILABLE", refused);
                // Asked on the gRPC port instead, it says the OpenCue port is off and why.
                using var channel = GrpcChannel.ForAddress(closed.Address);
                var elsewhere = await Assert.ThrowsAsync<RpcException>(() => new CueInterface.CueInterfaceClient(channel).GetSystemStatsAsync(new CueGetSystemStatsRequest()).ResponseAsync);
                Assert.Equal(StatusCode.Unimplemented, elsewhere.StatusCode);
                Assert.Contains("which is off here", elsewhere.Status.Detail);
            }

            // Submit hosts listed: open to exactly those, and the report names address, port, hosts and shows.
            var openPort = CoordinatorProcess.FreePort();
            using var open = await CoordinatorProcess.StartAsync(Path.Combine(dir, "b"), CoordinatorProcess.FreePort(), environment: new Dictionary<string, string>(tokens)
            {
                ["RMTC_Coordinator__OpenCuePort"] = openPort.ToString(CultureInfo.InvariantCulture),
                ["RMTC_Coordinator__OpenCueListenAddress"] = "127.0.0.2",
                ["RMTC_Coordinator__OpenCueSubmitHosts__0__Addresses__0"] = "127.0.0.1",
                ["RMTC_Coordinator__OpenCueSubmitHosts__0__Shows__0"] = "alpha",
                ["RMTC_Coordinator__OpenCueSubmitHosts__1__Addresses__0"] = "10.20.0.0/24",
                ["RMTC_Coordinator__OpenCueSubmitHosts__1__Addresses__1"] = "10.30.0.7",
                ["RMTC_Coordinator__OpenCueSubmitHosts__1__Shows__0"] = "rnd",
                ["RMTC_Coordinator__OpenCueSubmitHosts__1__Shows__1"] = "beta",
            });
            await FarmFixture.WaitUntilAsync(() => open.Output.Contains("is open without authentication"), TimeSpan.FromSeconds(30), () => open.Output);
            Assert.Contains($"The OpenCue port 127.0.0.2:{openPort} is open without authentication", open.Output);
            Assert.Contains("(Coordinator:OpenCueSubmitHosts): 127.0.0.1 for show alpha; 10.20.0.0/24, 10.30.0.7 for shows beta, rnd.", open.Output);
            Assert.Equal(["stats ok"], await PycueCalls.RunAsync($"127.0.0.2:{openPort}", "stats"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_submit_host_launches_sees_and_kills_only_its_shows_jobs()
    {
        await using var farm = await SecureFarm.StartAsync(new Dictionary<string, string?>
        {
            ["Coordinator:OpenCuePort"] = "0",
            ["Coordinator:OpenCueListenAddress"] = "127.0.0.2",
            [SubmitHostAddress] = "127.0.0.1",
            [SubmitHostShow] = "alpha",
        });
        var data = farm.Synthesize();
        // Another show's job, from a wrangler with a token; no agent runs, so it stays queued.
        var beta = (await farm.Jobs(SecureFarm.AdminToken).SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("beta-job", data, "beta")))).Job;
        var alphaSpec = await WriteSpecAsync(farm.Root, "alpha", data);
        var betaSpec = await WriteSpecAsync(farm.Root, "beta", data);
        var address = $"{farm.App.OpenCueAddress()!.Host}:{farm.App.OpenCueAddress()!.Port}";

        string[] lines = [.. await PycueCalls.RunAsync(address,
            "stats", $"launch={alphaSpec}", $"launch={betaSpec}", "jobs", $"get={beta.Id}", "find=beta-job", "pending=beta-job",
            $"frames={beta.Id}", $"kill={beta.Id}", $"pause={beta.Id}", $"resume={beta.Id}",
            "jobnames", "shows", "activeshows", "findshow=beta", $"layerframes={beta.Id}/train", $"getlayer={beta.Id}/train",
            "findlayer=beta-job/train", $"getframe={beta.Id}/1", "findframe=beta-job/train/1", $"updated={beta.Id}@0", "hosts", "procs",
            $"retryframe={beta.Id}/1", $"killframe={beta.Id}/1", $"eatframes={beta.Id}", $"layerkill={beta.Id}/train", $"setpriority={beta.Id}@5",
            $"setmaxretries={beta.Id}@1", $"comment={beta.Id}@x@y", $"comments={beta.Id}")];
        var output = string.Join("\n", lines);

        Assert.Equal("stats ok", lines[0]);
        Assert.Equal("launch ok alpha-train-alice_train_classifier", lines[1]);
        Assert.StartsWith("launch PERMISSION_DENIED cannot launch job 'beta-train-alice_train_classifier': it is in show 'beta', and OpenCue calls from 127.0.0.1 may act for alpha only", lines[2]);
        Assert.Contains("Coordinator:OpenCueSubmitHosts", lines[2]);
        Assert.Equal("jobs ok alpha-train-alice_train_classifier", lines[3]);
        Assert.All(new[] { lines[4], lines[5], lines[7], lines[8], lines[9], lines[10] }, line =>
        {
            Assert.Contains(" PERMISSION_DENIED ", line);
            Assert.Contains($"job 'beta-job' ({beta.Id}): it is in show 'beta'", line);
        });
        Assert.StartsWith("kill PERMISSION_DENIED cannot kill job", lines[8]);
        Assert.Equal("pending ok 0", lines[6]);

        // The read side keeps to the caller's shows too: other shows' jobs are left out of lists and refused by name.
        Assert.Equal(["jobnames ok alpha-train-alice_train_classifier", "shows ok alpha:1:1:1:2", "activeshows ok alpha:1:1:1:2"], lines[11..14]);
        Assert.StartsWith("findshow PERMISSION_DENIED cannot read show 'beta': OpenCue calls from 127.0.0.1 may act for alpha only", lines[14]);
        Assert.All(lines[15..21], line =>
        {
            Assert.Contains(" PERMISSION_DENIED cannot read ", line);
            Assert.Contains($"job 'beta-job' ({beta.Id}): it is in show 'beta'", line);
        });
        Assert.Equal(["hosts ok", "procs ok"], lines[21..23]);

        // Frame actions, job controls and comments on another show's job are refused the same way.
        Assert.All(lines[23..], line =>
        {
            Assert.Contains(" PERMISSION_DENIED cannot ", line);
            Assert.Contains($"job 'beta-job' ({beta.Id}): it is in show 'beta'", line);
        });

        // Nothing of beta's changed; only alpha's job was added.
        var betaRun = farm.Scheduler.ViewRun(beta.Id)!;
        Assert.False(betaRun.IsFinal, output);
        Assert.False(betaRun.Paused, output);
        var alpha = Assert.Single(farm.Scheduler.ViewRuns(), r => r.Id != beta.Id);
        Assert.Equal("alpha", alpha.Spec.EffectiveShow);

        // Its own show's job it may kill.
        Assert.Equal(["kill ok"], await PycueCalls.RunAsync(address, $"kill={alpha.Id}"));
        Assert.Equal(RunStates.Cancelled, farm.Scheduler.GetJob(alpha.Id)!.State);
    }

    [Fact]
    public async Task A_caller_that_is_not_a_listed_submit_host_is_refused_naming_its_address_and_the_setting()
    {
        // The port binds 127.0.0.2; the client's connection comes from 127.0.0.1, which is not listed.
        await using var farm = await SecureFarm.StartAsync(new Dictionary<string, string?>
        {
            ["Coordinator:OpenCuePort"] = "0",
            ["Coordinator:OpenCueListenAddress"] = "127.0.0.2",
            [SubmitHostAddress] = "127.0.0.3",
            [SubmitHostShow] = "alpha",
        });
        var spec = await WriteSpecAsync(farm.Root, "alpha", farm.Synthesize());
        var address = $"{farm.App.OpenCueAddress()!.Host}:{farm.App.OpenCueAddress()!.Port}";

        var lines = await PycueCalls.RunAsync(address, "stats", $"launch={spec}", "jobs", "find=anything");
        Assert.All(lines, line =>
        {
            Assert.Contains(" PERMISSION_DENIED 127.0.0.1 is not a submit host of this farm", line);
            Assert.Contains("Coordinator:OpenCueSubmitHosts", line);
        });
        Assert.Empty(farm.Scheduler.ViewRuns());
    }

    [Fact]
    public async Task Submit_hosts_without_shows_or_with_bad_addresses_stop_the_start_naming_the_setting()
    {
        var root = Directory.CreateTempSubdirectory("rmtc-sec-opencue-bad-").FullName;
        try
        {
            var settings = SecureFarm.Settings(root, TestCertificates.Create(Path.Combine(root, "secrets")));
            await File.WriteAllTextAsync(Path.Combine(root, "secrets", "farm-token"), SecureFarm.FarmToken);
            await File.WriteAllTextAsync(Path.Combine(root, "secrets", "wranglers.json"), $$"""{ "tokens": [ { "token": "{{SecureFarm.AdminToken}}", "user": "root", "role": "admin" } ] }""");
            Directory.CreateDirectory(Path.Combine(root, "datasets"));
            settings["Coordinator:OpenCuePort"] = "0";
            settings["Coordinator:OpenCueSubmitHosts:0:Addresses:0"] = "render-submit-01";
            settings["Coordinator:OpenCueSubmitHosts:0:Addresses:1"] = "10.20.0.5/24";
            settings["Coordinator:OpenCueSubmitHosts:1:Addresses:0"] = "10.20.0.7";
            settings["Coordinator:OpenCueSubmitHosts:2:Shows:0"] = "alpha";
            await using var app = CoordinatorHost.Create(c => c.AddInMemoryCollection(settings));
            var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
            Assert.Contains("Coordinator:OpenCueSubmitHosts:0:Addresses:0 'render-submit-01' is not an IP address or CIDR network", error.Message);
            Assert.Contains("Coordinator:OpenCueSubmitHosts:0:Addresses:1 '10.20.0.5/24' is not an IP address or CIDR network", error.Message);
            Assert.Contains("Coordinator:OpenCueSubmitHosts:0:Shows is empty", error.Message);
            Assert.Contains("Coordinator:OpenCueSubmitHosts:1:Shows is empty", error.Message);
            Assert.Contains("Coordinator:OpenCueSubmitHosts:2:Addresses is empty", error.Message);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>An OpenCue spec of <paramref name="show"/> (user alice, shot train) training the classifier on <paramref name="dataset"/>, paused.</summary>
    private static async Task<string> WriteSpecAsync(string root, string show, string dataset)
    {
        var path = Path.Combine(root, $"{show}.xml");
        await File.WriteAllTextAsync(path, $"""
            <?xml version="1.0"?>
            <!DOCTYPE spec PUBLIC "SPI Cue  Specification Language" "http://localhost:8080/spcue/dtd/cjsl-1.15.dtd">
            <spec>
              <facility>local</facility><show>{show}</show><shot>train</shot><user>alice</user><uid>1000</uid>
              <job name="train-classifier">
                <paused>True</paused><priority>1</priority><maxretries>2</maxretries><autoeat>False</autoeat><env />
                <layers>
                  <layer name="train" type="Render">
                    <cmd>rmtc train --recipe classifier --dataset {dataset} --rounds 1 --epochs 1 --batch-size 16</cmd>
                    <range>1-2</range><chunk>1</chunk><memory>1g</memory>
                    <services><service>shell</service></services><outputs />
                  </layer>
                </layers>
              </job>
              <depends />
            </spec>
            """);
        return path;
    }
}
