using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Core.Tests.Import;

public sealed class ManifestCompatibilityTests
{
    [Fact]
    public void Manifests_without_splits_plans_or_evaluations_keep_their_bytes()
    {
        var old = new RunManifest
        {
            RunId = "a-000000",
            Spec = new JobSpec { Name = "a", Recipe = "classifier", Dataset = "/d" },
            Rounds = { new RoundRecord { Round = 1, InputDigest = "x", MeanLoss = 0.5 } },
        };

        var json = old.ToJson();

        foreach (var key in new[] { "sharding", "effectiveSharding", "evaluation", "heldOut", "droppedDuplicates" })
        {
            Assert.DoesNotContain($"\"{key}\"", json);
        }

        Assert.DoesNotContain("\"shardPlan\": {", json); // seeds.shardPlan (a number) has always been there

        Assert.Equal(json, RunManifest.FromJson(json).ToJson());
    }

    [Fact]
    public void Evaluation_fields_round_trip()
    {
        var m = new RunManifest
        {
            Spec = new JobSpec { Name = "a", Recipe = "convnet", Dataset = "/d", Sharding = ShardingStrategies.ByLabel, Evaluation = new EvaluationSpec { Split = "test" } },
            ShardPlan = new ShardPlanRecord { Strategy = ShardingStrategies.ByLabel, Digest = "p" },
            Evaluation = new EvaluationRecord { Split = "test", Samples = 3, Digest = "d", AssetsDigest = "a", Metric = "accuracy" },
            Rounds = { new RoundRecord { Round = 1, Evaluation = new RoundEvaluation { Loss = 0.4, Accuracy = 0.9, Samples = 3, Seconds = 1 } } },
        };

        var json = m.ToJson();
        var back = RunManifest.FromJson(json);

        Assert.Equal(json, back.ToJson());
        Assert.Equal(0.9, back.Rounds[0].Evaluation!.Accuracy);
        Assert.Equal(ShardingStrategies.ByLabel, back.Spec!.EffectiveSharding);
    }
}
