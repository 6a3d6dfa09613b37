using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>The coordinator's Prometheus endpoint: its own HTTP/1.1 port, farm series that move when shards run.</summary>
public sealed class MetricsEndpointTests
{
    [Fact]
    public async Task Farm_series_are_served_on_their_own_port_and_move_when_shards_run()
    {
        await using var farm = await FarmFixture.StartAsync();
        var metrics = farm.App.MetricsAddress()!;
        Assert.NotEqual(new Uri(farm.Address).Port, metrics.Port);
        using var http = new HttpClient();

        var before = await http.GetStringAsync(metrics);
        Assert.Contains("rmtc_agents_connected", before);

        var data = farm.Synthesize("classifier", 40);
        await farm.StartAgentsAsync(2);
        var job = await farm.SubmitAsync($"name: m\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 2\n");
        Assert.Equal(JobState.Succeeded, (await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(2))).State);

        var after = await http.GetStringAsync(metrics);
        Assert.Contains("rmtc_agents_connected", after);
        Assert.Matches(@"rmtc_agents_connected\S* 2", after);
        Assert.Matches(@"rmtc_shards_completed_total\{[^}]*agent=""agent-1""[^}]*\} [1-9]", after);
        Assert.Contains("rmtc_round_duration_seconds_bucket", after);
        Assert.Contains("rmtc_merge_duration_seconds_count", after);
        Assert.Matches(@"rmtc_weights_transferred_bytes_total\{[^}]*direction=""upload""[^}]*\} [1-9]", after);
    }

    [Fact]
    public async Task Simulated_gpus_appear_as_dcgm_series_whose_utilisation_rises_while_shards_train()
    {
        await using var farm = await FarmFixture.StartAsync(heartbeatMs: 200);
        var metrics = farm.App.MetricsAddress()!;
        using var http = new HttpClient();
        await farm.StartAgentsAsync(2, "gpu-node", new Dictionary<string, string>
        {
            ["RMTC_Agent__SimulatedGpus"] = "1",
            ["RMTC_Agent__GpuSampleIntervalMs"] = "200",
        });

        // The first samples arrive with a heartbeat shortly after the agent connects.
        await FarmFixture.WaitUntilAsync(() => UtilisationAsync(http, metrics, "gpu-node-1").GetAwaiter().GetResult() >= 0, TimeSpan.FromSeconds(30), farm.AgentLogs);
        var idle = await UtilisationAsync(http, metrics, "gpu-node-1");
        var text = await http.GetStringAsync(metrics);
        foreach (var name in new[] { "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_TEMP" })
        {
            Assert.Matches(name + @"\{[^}]*Hostname=""[^""]+""[^}]*UUID=""GPU-sim-gpu-node-1-0""[^}]*device=""nvidia0""[^}]*gpu=""0""[^}]*modelName=""Simulated GPU \(rmtc\)""", text);
        }

        var data = farm.Synthesize("classifier", 200);
        var job = await farm.SubmitAsync($"name: g\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 1\nlocal: {{ epochs: 500, batch_size: 4 }}\n");
        var busy = idle;
        await FarmFixture.WaitUntilAsync(() =>
        {
            busy = Math.Max(busy, Math.Max(
                UtilisationAsync(http, metrics, "gpu-node-1").GetAwaiter().GetResult(),
                UtilisationAsync(http, metrics, "gpu-node-2").GetAwaiter().GetResult()));
            return busy > idle;
        }, TimeSpan.FromSeconds(60), () => $"utilisation stayed at {idle} while shards ran\n" + farm.AgentLogs());
        await farm.Jobs.CancelJobAsync(new CancelJobRequest { JobId = job.Id, Reason = "test done" });
    }

    private static async Task<double> UtilisationAsync(HttpClient http, Uri metrics, string agent)
    {
        var text = await http.GetStringAsync(metrics);
        var match = System.Text.RegularExpressions.Regex.Match(text, @"DCGM_FI_DEV_GPU_UTIL\{[^}]*UUID=""GPU-sim-" + agent + @"-0""[^}]*\} (\S+)");
        return match.Success ? double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;
    }
}
