using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>Runs on data with a held-out test split: never trained on, evaluated after every round.</summary>
public sealed class EvaluationRunTests
{
    /// <summary>A synthesized labelled dataset whose last <paramref name="test"/> samples form its test split.</summary>
    internal static string WithTestSplit(FarmFixture farm, int samples, int test) => WithTestSplit(farm.Synthesize("classifier", samples), test);

    /// <summary>A copy of the labelled dataset at <paramref name="source"/> whose last <paramref name="test"/> samples form its test split.</summary>
    internal static string WithTestSplit(string source, int test)
    {
        var dir = source + "-split";
        if (Directory.Exists(dir))
        {
            return dir;
        }

        var files = Dataset.ListSamples(source);
        Directory.CreateDirectory(Path.Combine(dir, "samples", "train"));
        Directory.CreateDirectory(Path.Combine(dir, "samples", "test"));
        for (var i = 0; i < files.Count; i++)
        {
            var split = i >= files.Count - test ? "test" : "train";
            File.Copy(Path.Combine(source, files[i]), Path.Combine(dir, "samples", split, Path.GetFileName(files[i])));
        }

        var descriptor = Dataset.ReadDescriptor(source);
        descriptor.Splits["train"] = "samples/train";
        descriptor.Splits["test"] = "samples/test";
        Dataset.WriteDescriptor(dir, descriptor);
        return dir;
    }

    [Fact]
    public async Task Every_round_is_evaluated_on_the_test_split_which_no_shard_trains_on()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = WithTestSplit(farm, 100, 30);
        await farm.StartAgentsAsync(2);

        var job = await farm.SubmitAsync($"""
            name: evaluated
            recipe: convnet
            dataset: {data}
            shards: 2
            rounds: 2
            local: {"{"} epochs: 1, batch_size: 16, learning_rate: 0.003 {"}"}
            """);
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));

        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");
        var manifest = farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal("test", manifest.Evaluation!.Split);
        Assert.Equal(30, manifest.Evaluation.Samples);
        Assert.Equal("accuracy", manifest.Evaluation.Metric);
        Assert.Equal(70, manifest.Dataset.Samples);
        Assert.Equal(30, manifest.Dataset.HeldOut!.Single(h => h.Name == "test").Samples);
        Assert.Equal(ShardingStrategies.Iid, manifest.ShardPlan!.Strategy);

        // Disjoint: the stored plan names only training samples, and the evaluated assets are exactly the test split.
        var all = Dataset.ListSamples(data);
        var planned = System.Text.Json.JsonSerializer.Deserialize<int[][]>(farm.Artifacts.ReadJson(manifest.ShardPlan.Digest)!)!.SelectMany(p => p).ToList();
        Assert.Equal(70, planned.Count);
        Assert.All(planned, i => Assert.StartsWith("samples/train/", all[i]));
        var evaluated = AssetList.FromJson(farm.Artifacts.ReadJson(manifest.Evaluation.AssetsDigest)!);
        Assert.All(evaluated, a => Assert.StartsWith("samples/test/", a.Path));
        Assert.Empty(evaluated.Select(a => a.Sha256).Intersect(AssetList.FromJson(farm.Artifacts.ReadJson(manifest.Dataset.AssetsDigest!)!).Select(a => a.Sha256)));

        Assert.All(manifest.Rounds, r =>
        {
            Assert.NotNull(r.Evaluation);
            Assert.Equal(30, r.Evaluation!.Samples);
            Assert.InRange(r.Evaluation.Accuracy!.Value, 0, 1);
            Assert.True(double.IsFinite(r.Evaluation.Loss));
        });
        Assert.All(done.CompletedRounds, r => Assert.True(r.HasEvalAccuracy && r.EvalSamples == 30, r.ToString()));
        Assert.Equal(manifest.Rounds[^1].Evaluation!.Accuracy, done.CompletedRounds[^1].EvalAccuracy);
    }

    [Fact]
    public async Task By_label_sharding_is_planned_from_the_labels_and_recorded()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = WithTestSplit(farm, 80, 20);
        await farm.StartAgentsAsync(2);

        var job = await farm.SubmitAsync($"""
            name: non-iid
            recipe: convnet
            dataset: {data}
            shards: 2
            rounds: 1
            sharding: by-label
            evaluation: {"{"} split: none {"}"}
            """);
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));

        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");
        var manifest = farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(ShardingStrategies.ByLabel, manifest.ShardPlan!.Strategy);
        Assert.Equal(ShardingStrategies.ByLabel, manifest.Spec!.Sharding);
        Assert.Null(manifest.Evaluation);
        Assert.All(manifest.Rounds, r => Assert.Null(r.Evaluation));
        Assert.Equal(60, manifest.Dataset.Samples); // held out even without evaluation
        var all = Dataset.ListSamples(data);
        var plan = System.Text.Json.JsonSerializer.Deserialize<int[][]>(farm.Artifacts.ReadJson(manifest.ShardPlan.Digest)!)!;
        var labels = SampleLabels.Read(data, all);
        // Sorted by label before the cut: every label of shard 0 is at most every label of shard 1.
        Assert.True(plan[0].Max(i => labels[i]) <= plan[1].Min(i => labels[i]));
    }

    [Fact]
    public async Task An_unknown_evaluation_split_is_refused_at_submission()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = WithTestSplit(farm, 40, 10);

        var e = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => farm.SubmitAsync($"""
            name: bad-split
            recipe: convnet
            dataset: {data}
            shards: 2
            evaluation: {"{"} split: validation {"}"}
            """));
        Assert.Contains("has no split 'validation'", e.Status.Detail);
    }
}
