using System.Net;
using Grpc.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.Security;

/// <summary>Dataset roots, start-up validation of the security settings, the Explorer's token, and the CLI's flags.</summary>
public sealed class ConfinementAndStartupTests
{
    [Fact]
    public async Task Datasets_outside_the_roots_by_dotdot_or_by_symlink_are_refused_naming_path_roots_and_setting()
    {
        await using var farm = await SecureFarm.StartAsync();
        var admin = farm.Jobs(SecureFarm.AdminToken);
        var inside = farm.Synthesize();
        var outside = Path.Combine(farm.Root, "elsewhere");
        RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", outside, 40, 3);

        // `..` out of the root.
        var dotdot = Path.Combine(farm.Datasets, "..", "elsewhere");
        var escape = await Assert.ThrowsAsync<RpcException>(() => admin.SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("dotdot", dotdot, "alpha"))).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, escape.StatusCode);
        Assert.Contains(outside, escape.Status.Detail);
        Assert.Contains(farm.Datasets, escape.Status.Detail);
        Assert.Contains("Coordinator:DatasetRoots", escape.Status.Detail);

        // A symlink inside the root that leads out of it.
        var link = Path.Combine(farm.Datasets, "linked");
        Directory.CreateSymbolicLink(link, outside);
        var viaLink = await Assert.ThrowsAsync<RpcException>(() => admin.SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("link", link, "alpha"))).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, viaLink.StatusCode);
        Assert.Contains($"{link} (really {outside})", viaLink.Status.Detail);

        // A sample inside a dataset that links to a file outside.
        var planted = Path.Combine(farm.Datasets, "planted");
        RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", planted, 40, 4);
        var victim = Path.Combine(outside, "secret.txt");
        await File.WriteAllTextAsync(victim, "not for training");
        File.CreateSymbolicLink(Path.Combine(planted, "leak.txt"), victim);
        var viaSample = await Assert.ThrowsAsync<RpcException>(() => admin.SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("sample", planted, "alpha"))).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, viaSample.StatusCode);
        Assert.Contains("leak.txt", viaSample.Status.Detail);

        Assert.Empty(farm.Scheduler.ListJobs());
        var ok = await admin.SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("inside", inside, "alpha")));
        Assert.NotEmpty(ok.Job.Id);
    }

    [Fact]
    public async Task A_model_file_outside_the_roots_is_refused_like_a_dataset_and_one_inside_is_taken()
    {
        await using var farm = await SecureFarm.StartAsync();
        var admin = farm.Jobs(SecureFarm.AdminToken);
        var inside = farm.Synthesize();
        var committed = Path.Combine(FarmOperationsTests.RepoRoot(), "farm", "models", "resnet_classifier_synth.pt");
        string WithModel(string name, string file) => SecureFarm.Spec(name, inside, "alpha").Replace("recipe: classifier",
            $"model: {{ file: {file}, task: labelled-images, loss: cross_entropy, licence: Apache-2.0 }}", StringComparison.Ordinal);

        var outside = await Assert.ThrowsAsync<RpcException>(() => admin.SubmitJobAsync(SecureFarm.Submit(WithModel("outside", committed))).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, outside.StatusCode);
        Assert.Contains($"model file {committed}", outside.Status.Detail);
        Assert.Contains("move the model file under one of them", outside.Status.Detail);
        Assert.Empty(farm.Scheduler.ListJobs());

        var copy = Path.Combine(farm.Datasets, "resnet.pt");
        File.Copy(committed, copy);
        var ok = await admin.SubmitJobAsync(SecureFarm.Submit(WithModel("inside", copy)));
        Assert.Equal("torchscript", ok.Job.Recipe);
    }

    [Fact]
    public async Task Missing_certificate_or_token_files_stop_the_start_with_an_error_naming_the_file()
    {
        var root = Directory.CreateTempSubdirectory("rmtc-sec-bad-").FullName;
        try
        {
            var certificates = TestCertificates.Create(Path.Combine(root, "secrets"));
            Directory.CreateDirectory(Path.Combine(root, "datasets"));
            var settings = SecureFarm.Settings(root, certificates);
            settings["Coordinator:Tls:CertificatePath"] = Path.Combine(root, "missing.pem");
            settings["Coordinator:AgentTokenFile"] = Path.Combine(root, "no-token");
            settings["Coordinator:WranglerTokensFile"] = Path.Combine(root, "no-wranglers.json");
            await using var app = CoordinatorHost.Create(c => c.AddInMemoryCollection(settings));
            var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
            Assert.Contains($"Coordinator:Tls:CertificatePath {Path.Combine(root, "missing.pem")}: no such file", error.Message);
            Assert.Contains($"Coordinator:AgentTokenFile {Path.Combine(root, "no-token")}", error.Message);
            Assert.Contains($"Coordinator:WranglerTokensFile {Path.Combine(root, "no-wranglers.json")}", error.Message);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task The_opencue_port_binds_its_own_address_apart_from_the_grpc_port()
    {
        // pycue cannot do TLS or tokens, so the OpenCue port is kept to the interface submission hosts reach.
        await using var farm = await SecureFarm.StartAsync(new Dictionary<string, string?>
        {
            ["Coordinator:OpenCuePort"] = "0",
            ["Coordinator:OpenCueListenAddress"] = "127.0.0.2",
            ["Coordinator:OpenCueSubmitHosts:0:Addresses:0"] = "127.0.0.1",
            ["Coordinator:OpenCueSubmitHosts:0:Shows:0"] = "alpha",
        });
        var openCue = farm.App.OpenCueAddress()!;
        Assert.Equal("127.0.0.2", openCue.Host);

        using (var reachable = new System.Net.Sockets.TcpClient())
        {
            await reachable.ConnectAsync(IPAddress.Parse("127.0.0.2"), openCue.Port);
        }

        using var elsewhere = new System.Net.Sockets.TcpClient();
        await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(() => elsewhere.ConnectAsync(IPAddress.Loopback, openCue.Port));
    }

    [Fact]
    public async Task An_open_coordinator_says_at_start_what_is_open_and_which_setting_closes_it()
    {
        var dir = Directory.CreateTempSubdirectory("rmtc-sec-open-").FullName;
        try
        {
            using var coordinator = await CoordinatorProcess.StartAsync(dir, CoordinatorProcess.FreePort());
            await FarmFixture.WaitUntilAsync(() => coordinator.Output.Contains("This coordinator is open"), TimeSpan.FromSeconds(10), () => coordinator.Output);
            Assert.Contains("set Coordinator:AgentTokenFile", coordinator.Output);
            Assert.Contains("set Coordinator:WranglerTokensFile", coordinator.Output);
            Assert.Contains("set Coordinator:DatasetRoots", coordinator.Output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task The_explorer_needs_a_wrangler_token_and_shows_only_the_callers_shows()
    {
        await using var farm = await SecureFarm.StartAsync();
        var job = (await farm.Jobs(SecureFarm.AliceToken).SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("explored", farm.Synthesize(), "alpha")))).Job;
        await farm.Scheduler.FlushAsync();
        var explorer = farm.App.ExplorerAddress()!;
        using var http = new HttpClient(new HttpClientHandler { UseCookies = true });

        var anonymous = await http.GetAsync(new Uri(explorer, "api/runs"));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Contains("?token=", await anonymous.Content.ReadAsStringAsync());

        // The query token is kept in a cookie for the page's own requests.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(explorer, $"?token={SecureFarm.BobToken}"))).StatusCode);
        Assert.DoesNotContain(job.Id, await http.GetStringAsync(new Uri(explorer, "api/runs")));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(explorer, $"api/runs/{job.Id}"))).StatusCode);

        using var asAlice = new HttpRequestMessage(HttpMethod.Get, new Uri(explorer, "api/runs"));
        asAlice.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", SecureFarm.AliceToken);
        using var aliceClient = new HttpClient();
        Assert.Contains(job.Id, await (await aliceClient.SendAsync(asAlice)).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_cli_passes_its_token_and_ca_flags_and_reports_a_refusal()
    {
        await using var farm = await SecureFarm.StartAsync();
        var tokenFile = Path.Combine(farm.Root, "secrets", "alice-token");
        await File.WriteAllTextAsync(tokenFile, SecureFarm.AliceToken);
        var data = farm.Synthesize();
        var spec = Path.Combine(farm.Root, "job.yaml");
        await File.WriteAllTextAsync(spec, SecureFarm.Spec("cli", data, "alpha"));

        var (submitCode, submitted) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "submit", spec, "--coordinator", farm.Address, "--token-file", tokenFile, "--ca", farm.Certificates.CaFile);
        Assert.True(submitCode == 0, submitted);
        var (statusCode, status) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "status", "--coordinator", farm.Address, "--token-file", tokenFile, "--ca", farm.Certificates.CaFile);
        Assert.True(statusCode == 0, status);
        Assert.Contains("cli-", status);

        var (refusedCode, refused) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "status", "--coordinator", farm.Address, "--ca", farm.Certificates.CaFile);
        Assert.Equal(1, refusedCode);
        Assert.Contains("requires a wrangler token", refused);
    }
}
