using System.Net;
using RMTC.Farm.Agent.Gpus;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.Gpus;

/// <summary>An agent's own /metrics: off by default, DCGM names when on, no line for a missing reading.</summary>
public sealed class AgentMetricsEndpointTests
{
    [Fact]
    public void Missing_readings_produce_no_series_and_labels_follow_dcgm()
    {
        var text = AgentMetricsEndpoint.Render(
        [
            new GpuSample { Index = 0, Uuid = "GPU-a", Name = "NVIDIA RTX A6000", UtilizationPercent = 87, MemoryUsedMib = 1000, MemoryTotalMib = 49140 },
            new GpuSample { Index = 1, Uuid = "GPU-b", Name = "NVIDIA RTX A6000" },
        ], "render-042");
        Assert.Contains("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-a\",device=\"nvidia0\",modelName=\"NVIDIA RTX A6000\",Hostname=\"render-042\"} 87", text);
        Assert.Contains("DCGM_FI_DEV_FB_FREE{gpu=\"0\",UUID=\"GPU-a\",device=\"nvidia0\",modelName=\"NVIDIA RTX A6000\",Hostname=\"render-042\"} 48140", text);
        Assert.DoesNotContain("UUID=\"GPU-b\"", text);
        Assert.DoesNotContain("DCGM_FI_DEV_POWER_USAGE{", text);
    }

    [Fact]
    public async Task An_agent_with_a_metrics_port_serves_its_simulated_gpus()
    {
        await using var farm = await FarmFixture.StartAsync();
        var port = CoordinatorProcess.FreePort();
        await farm.StartAgentsAsync(1, "metrics-node", new Dictionary<string, string>
        {
            ["RMTC_Agent__SimulatedGpus"] = "2",
            ["RMTC_Agent__GpuSampleIntervalMs"] = "200",
            ["RMTC_Agent__MetricsPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        using var http = new HttpClient();
        var text = "";
        await FarmFixture.WaitUntilAsync(() =>
        {
            try
            {
                text = http.GetStringAsync($"http://127.0.0.1:{port}/metrics").GetAwaiter().GetResult();
                return text.Contains("GPU-sim-metrics-node-1-1", StringComparison.Ordinal);
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), farm.AgentLogs);
        Assert.Contains("DCGM_FI_DEV_GPU_UTIL{gpu=\"1\",UUID=\"GPU-sim-metrics-node-1-1\"", text);
        var missing = await http.GetAsync($"http://127.0.0.1:{port}/other");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }
}
