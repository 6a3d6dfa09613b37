using System.Net;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>A real farm with one completed run (2 agents, 2 shards, 2 rounds), shared by the Explorer's tests.</summary>
public sealed class ExplorerFarm : IAsyncLifetime
{
    /// <summary>The run's spec seed: 2^53 + 1, the first integer a JavaScript number cannot hold (its derived seeds are 63-bit).</summary>
    public const long Seed = 9_007_199_254_740_993;

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
        var job = await Farm.SubmitAsync($"name: explored\nrecipe: classifier\ndataset: {DatasetDir}\nshards: 2\nrounds: 2\nseed: {Seed}\n");
        var done = await Farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{Farm.AgentLogs()}");
        Run = Farm.Scheduler.GetManifest(job.Id)!;

        // The model leaves the farm: an ONNX export, and an inference with it, both recorded in lineage.
        var onnx = Path.Combine(Farm.Root, "explored.onnx");
        var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "export", job.Id, "--onnx", onnx, "--coordinator", Farm.Address);
        Assert.True(code == 0, output);
        OnnxDigest = Sha256Digest.OfFile(onnx);
        var scores = Path.Combine(Farm.Root, "scores.json");
        var sample = Path.Combine(DatasetDir, Dataset.Open(DatasetDir).Samples[0].RelativePath);
        (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "infer", onnx, "--input", sample, "--output", scores, "--coordinator", Farm.Address);
        Assert.True(code == 0, output);
        InferenceOutput = Sha256Digest.OfFile(scores);
    }

    /// <summary>sha256 of the run's model exported as ONNX.</summary>
    public string OnnxDigest { get; private set; } = "";

    /// <summary>sha256 of the output of one inference with the ONNX export.</summary>
    public string InferenceOutput { get; private set; } = "";

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
