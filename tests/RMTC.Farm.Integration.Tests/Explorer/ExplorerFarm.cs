using System.Net;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>A real farm with one completed run (2 agents, 2 shards, 2 rounds), shared by the Explorer's tests.</summary>
public sealed class ExplorerFarm : IAsyncLifetime
{
    public FarmFixture Farm { get; private set; } = null!;
    public RunManifest Run { get; private set; } = null!;
    public string DatasetDir { get; private set; } = "";
    /// <summary>The Explorer's root, e.g. http://127.0.0.1:PORT/explorer/.</summary>
    public Uri Explorer { get; private set; } = null!;
    public HttpClient Http { get; } = new();

    public async Task InitializeAsync()
    {
        Farm = await FarmFixture.StartAsync();
        Explorer = new Uri(Farm.App.MetricsAddress()!, "/explorer/");
        DatasetDir = Farm.Synthesize("classifier", 48);
        // Simulated GPUs report samples with each heartbeat, so the farm view has GPUs to show.
        await Farm.StartAgentsAsync(2, environment: new Dictionary<string, string> { ["RMTC_Agent__SimulatedGpus"] = "1", ["RMTC_Agent__GpuSampleIntervalMs"] = "200" });
        var job = await Farm.SubmitAsync($"name: explored\nrecipe: classifier\ndataset: {DatasetDir}\nshards: 2\nrounds: 2\n");
        var done = await Farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{Farm.AgentLogs()}");
        Run = Farm.Scheduler.GetManifest(job.Id)!;
    }

    /// <summary>An asset the run trained on.</summary>
    public string AnAsset => Dataset.Open(DatasetDir).Samples[3].Sha256;

    public async Task<(HttpStatusCode Status, string Body)> GetAsync(string relative)
    {
        using var response = await Http.GetAsync(new Uri(Explorer, relative));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Farm.DisposeAsync();
    }
}
