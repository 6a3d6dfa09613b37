using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// The same spec, seed and data trained twice: the files differ (their metadata names the run), the tensors do not.
/// Four shards on three agents finish in whatever order they do; the merge folds them in shard order, so every round's
/// average has the same bits (float32 sums of three or more results depend on their order).
/// </summary>
public sealed class ReproducibleRunTests
{
    [Fact]
    public async Task Two_runs_of_the_same_spec_record_the_same_tensors_digest_beside_different_file_digests()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 40);
        await farm.StartAgentsAsync(3);
        var spec = $"name: again\nrecipe: classifier\ndataset: {data}\nshards: 4\nrounds: 3\nseed: 42\nlocal: {{ epochs: 1, batch_size: 8 }}\n";

        var runs = new List<RunManifest>();
        for (var i = 0; i < 2; i++)
        {
            var job = await farm.SubmitAsync(spec);
            var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(2));
            Assert.True(done.State == JobState.Succeeded, done + "\n" + farm.AgentLogs());
            Assert.Equal(64, done.FinalModelTensorsDigest.Length);
            runs.Add(RunManifest.FromJson((await farm.Jobs.GetManifestAsync(new GetJobRequest { JobId = job.Id })).Json));
        }

        var (a, b) = (runs[0], runs[1]);
        Assert.NotEqual(a.FinalModelDigest, b.FinalModelDigest);
        Assert.NotNull(a.FinalModelTensorsDigest);
        Assert.Equal(a.FinalModelTensorsDigest, b.FinalModelTensorsDigest);
        Assert.Equal(a.InitialWeightsTensorsDigest, b.InitialWeightsTensorsDigest);
        Assert.Equal(a.Rounds.Select(r => r.OutputTensorsDigest), b.Rounds.Select(r => r.OutputTensorsDigest));
        // What is recorded is what the stored file holds.
        Assert.Equal(a.FinalModelTensorsDigest, TensorsDigest.Of(farm.Artifacts.ReadWeights(a.FinalModelDigest!).Tensors));
        Assert.Equal(b.InitialWeightsTensorsDigest, TensorsDigest.Of(farm.Artifacts.ReadWeights(b.InitialWeightsDigest).Tensors));

        var show = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "show", a.RunId, "--coordinator", farm.Address);
        Assert.True(show.ExitCode == 0, show.Output);
        Assert.Contains($"tensors    sha256:{a.FinalModelTensorsDigest}", show.Output);
        // The preparation is leased like a shard and listed like one.
        var prepared = Assert.Single(a.Tasks!, t => t.Kind == TaskKinds.Prepare).Attempts.Last();
        Assert.Contains($"  prepare attempt {prepared.Attempt} on {prepared.AgentId} (epoch {prepared.LeaseEpoch}): succeeded sha256:{a.InitialWeightsDigest[..16]}", show.Output);
        var status = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "status", b.RunId, "--coordinator", farm.Address);
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains($"tensors   sha256:{b.FinalModelTensorsDigest}", status.Output);
    }
}
