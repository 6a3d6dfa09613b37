using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>What farm admins deploy (farm/): checked with the real tools, against a real Prometheus.</summary>
public sealed partial class FarmOperationsTests
{
    private static readonly string Farm = Path.Combine(RepoRoot(), "farm");

    [Fact]
    public async Task Promtool_accepts_the_prometheus_config_and_the_alert_rules()
    {
        var (code, output) = await RunAsync("/usr/bin/promtool", "check", "config", Path.Combine(Farm, "prometheus", "prometheus.yml"));
        Assert.True(code == 0, output);
        (code, output) = await RunAsync("/usr/bin/promtool", "check", "rules", Path.Combine(Farm, "prometheus", "rules.yml"));
        Assert.True(code == 0, output);
        Assert.Contains("7 rules found", output);
    }

    [Theory]
    [InlineData("rmtc-agent.service")]
    [InlineData("rmtc-coordinator.service")]
    [InlineData("rmtc-redis.service")]
    [InlineData("rmtc-redis-sentinel.service")]
    public async Task Systemd_accepts_the_unit_files(string unit)
    {
        if (!File.Exists("/usr/bin/systemd-analyze"))
        {
            // No systemd on this machine (e.g. a minimal container): nothing can judge the units here.
            return;
        }

        // verify also insists the binary exists; the installed /opt/rmtc/rmtc is swapped for one that does.
        var copy = Path.Combine(Directory.CreateTempSubdirectory("rmtc-unit-").FullName, unit);
        await File.WriteAllTextAsync(copy, (await File.ReadAllTextAsync(Path.Combine(Farm, "systemd", unit))).Replace("/opt/rmtc/rmtc", "/bin/true", StringComparison.Ordinal));
        var (code, output) = await RunAsync("/usr/bin/systemd-analyze", "verify", copy);
        Directory.Delete(Path.GetDirectoryName(copy)!, recursive: true);
        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task Prometheus_scrapes_dcgm_and_farm_series_that_move_and_the_dashboard_queries_only_exported_series()
    {
        await using var farm = await FarmFixture.StartAsync(heartbeatMs: 200);
        var metrics = farm.App.MetricsAddress()!;
        using var prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{metrics.Port}");
        await farm.StartAgentsAsync(2, "prom-node", new Dictionary<string, string>
        {
            ["RMTC_Agent__SimulatedGpus"] = "1",
            ["RMTC_Agent__GpuSampleIntervalMs"] = "200",
        });
        var data = farm.Synthesize("classifier", 100);

        // A short run so every series exists (histograms appear with the first closed round).
        var quick = await farm.SubmitAsync($"name: quick\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 1\n");
        Assert.Equal(JobState.Succeeded, (await farm.WaitAsync(quick.Id, TimeSpan.FromMinutes(2))).State);

        // Then a long one, watched through Prometheus until GPU utilisation visibly moves.
        var slow = await farm.SubmitAsync($"name: slow\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 1\nlocal: {{ epochs: 1000, batch_size: 4 }}\n");

        // Series of live runs exist only while one is live: read what is exported as soon as the slow run trains (on a
        // loaded machine it may be over by the time the GPU series have moved).
        using var http = new HttpClient();
        var exported = new HashSet<string>(StringComparer.Ordinal);
        var scrape = "";
        await FarmFixture.WaitUntilAsync(() =>
        {
            // The exporter may answer from a scrape cached before the run started: read again until the run shows.
            scrape = http.GetStringAsync(metrics).GetAwaiter().GetResult();
            return farm.Scheduler.GetJob(slow.Id)!.ShardsRunning > 0 && scrape.Contains(slow.Id, StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(60), () => "the slow run never showed in the coordinator's metrics:\n" + scrape);
        exported.UnionWith(ExportedNames().Matches(scrape).Select(m => m.Groups[1].Value));
        await FarmFixture.WaitUntilAsync(() =>
            prometheus.QueryAsync("max_over_time(DCGM_FI_DEV_GPU_UTIL[2m]) > min_over_time(DCGM_FI_DEV_GPU_UTIL[2m])").GetAwaiter().GetResult().Count > 0,
            TimeSpan.FromSeconds(90), () => "GPU utilisation never moved in Prometheus:\n" + prometheus.Output);

        var gpus = await prometheus.QueryAsync("DCGM_FI_DEV_GPU_UTIL");
        Assert.Equal(2, gpus.Count);
        foreach (var series in gpus)
        {
            var labels = series!["metric"]!.AsObject();
            foreach (var label in new[] { "gpu", "UUID", "device", "modelName", "Hostname" })
            {
                Assert.True(labels.ContainsKey(label), $"DCGM_FI_DEV_GPU_UTIL lacks the {label} label: {labels}");
            }
        }

        Assert.Equal("2", (string)(await prometheus.QueryAsync("rmtc_agents_connected"))[0]!["value"]![1]!);
        Assert.NotEmpty(await prometheus.QueryAsync("rmtc_shards_completed_total > 0"));
        // The slow run's shards show up as running once a scrape has caught them (any scrape since the run started:
        // on a loaded machine the shards may already be done by the time the GPU series have moved).
        await FarmFixture.WaitUntilAsync(() => prometheus.QueryAsync("max_over_time(rmtc_shards_running[5m]) > 0").GetAwaiter().GetResult().Count > 0,
            TimeSpan.FromSeconds(60), () => "Prometheus never saw a running shard:\n" + prometheus.Output);

        // Every series the Grafana dashboard queries is one the coordinator exports (read while a run was live, and now).
        exported.UnionWith(ExportedNames().Matches(await http.GetStringAsync(metrics)).Select(m => m.Groups[1].Value));
        await farm.Jobs.CancelJobAsync(new CancelJobRequest { JobId = slow.Id, Reason = "test done" });
        var dashboard = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Farm, "grafana", "rmtc-farm.json")))!;
        var queried = dashboard["panels"]!.AsArray()
            .SelectMany(p => p!["targets"]!.AsArray().Select(t => (string)t!["expr"]!))
            .SelectMany(e => QueriedNames().Matches(e).Select(m => m.Value))
            .ToHashSet();
        Assert.NotEmpty(queried);
        Assert.Empty(queried.Except(exported));
    }

    [GeneratedRegex(@"^([A-Za-z_][A-Za-z0-9_]*)[{ ]", RegexOptions.Multiline)]
    private static partial Regex ExportedNames();

    [GeneratedRegex(@"\b(DCGM_FI_[A-Z_]+|rmtc_[a-z_]+)\b")]
    private static partial Regex QueriedNames();

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RMTC.Farm.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (RMTC.Farm.sln) above " + AppContext.BaseDirectory);
    }

    private static async Task<(int Code, string Output)> RunAsync(string exe, params string[] args)
    {
        if (!File.Exists(exe))
        {
            throw new InvalidOperationException(exe.Contains("prom", StringComparison.Ordinal) ? PrometheusServer.NotInstalled : $"{exe} is not installed");
        }

        var info = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, output);
    }
}
