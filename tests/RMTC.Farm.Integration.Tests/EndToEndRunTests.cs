using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>Whole runs on a real farm: coordinator over gRPC on loopback, agents as real processes, TorchSharp training.</summary>
public sealed class EndToEndRunTests
{
    [Fact]
    public async Task Multi_agent_run_completes_and_each_round_is_the_sample_weighted_mean_of_its_results()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 230);
        await farm.StartAgentsAsync(3);

        var job = await farm.SubmitAsync($"""
            name: e2e
            recipe: classifier
            dataset: {data}
            shards: 3
            rounds: 2
            local: {"{"} epochs: 1, batch_size: 16, learning_rate: 0.05 {"}"}
            """);
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));

        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");
        var manifest = farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(2, manifest.Rounds.Count);
        Assert.Equal(3, manifest.Rounds.SelectMany(r => r.Attempts).Select(a => a.AgentId).Distinct().Count());
        Assert.Equal(manifest.Rounds[^1].OutputDigest, manifest.FinalModelDigest);
        Assert.Equal(manifest.Rounds[0].OutputDigest, manifest.Rounds[1].InputDigest);

        // The finished manifest is within the budget it was admitted under (Coordinator:MaxManifestBytes).
        var admitted = RunManifest.FromJson(manifest.ToJson());
        admitted.Rounds.Clear();
        admitted.Seal = null;
        admitted.FinalModelDigest = null;
        admitted.FinishedAt = null;
        admitted.Error = null;
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(manifest.ToJson()), 1, RMTC.Farm.Coordinator.Runs.ManifestBudget.Projected(admitted, manifest.Spec!));

        foreach (var round in manifest.Rounds)
        {
            // Anyone can recompute a round from the artifact store: results stay, and the plan says the weights.
            var expected = ReferenceMean(farm, round);
            var merged = farm.Artifacts.ReadWeights(round.OutputDigest!).Tensors;
            foreach (var tensor in merged)
            {
                var want = expected[tensor.Name];
                var got = tensor.AsFloat32();
                for (var i = 0; i < got.Length; i++)
                {
                    Assert.True(Math.Abs(got[i] - want[i]) <= 1e-5 * Math.Max(1, Math.Abs(want[i])), $"round {round.Round} {tensor.Name}[{i}]: {got[i]} vs {want[i]}");
                }
            }
        }
    }

    [Fact]
    public async Task Nesterov_merge_applies_the_outer_step_to_the_round_mean()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 60);
        await farm.StartAgentsAsync(2);
        var job = await farm.SubmitAsync($"""
            name: diloco
            recipe: classifier
            dataset: {data}
            shards: 2
            rounds: 1
            merge: {"{"} strategy: nesterov, outer_learning_rate: 0.7, momentum: 0.9 {"}"}
            """);
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(2));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");

        // First round, zero momentum: m = g = global - mean; new = global - lr * (mu * m + g) = global - lr * (1 + mu) * g.
        var round = farm.Scheduler.GetManifest(job.Id)!.Rounds[0];
        var mean = ReferenceMean(farm, round);
        var input = farm.Artifacts.ReadWeights(round.InputDigest).Tensors.ToDictionary(t => t.Name);
        foreach (var tensor in farm.Artifacts.ReadWeights(round.OutputDigest!).Tensors)
        {
            var global = input[tensor.Name].AsFloat32();
            var got = tensor.AsFloat32();
            for (var i = 0; i < got.Length; i++)
            {
                var want = global[i] - 0.7 * 1.9 * (global[i] - mean[tensor.Name][i]);
                Assert.True(Math.Abs(got[i] - want) <= 1e-5 * Math.Max(1, Math.Abs(want)), $"{tensor.Name}[{i}]: {got[i]} vs {want}");
            }
        }
    }

    private static Dictionary<string, double[]> ReferenceMean(FarmFixture farm, RoundRecord round)
    {
        var sums = new Dictionary<string, double[]>();
        double total = 0;
        foreach (var shard in round.Shards)
        {
            var tensors = farm.Artifacts.ReadWeights(shard.ResultDigest!).Tensors;
            foreach (var t in tensors)
            {
                var values = t.AsFloat32();
                var sum = sums.TryGetValue(t.Name, out var s) ? s : sums[t.Name] = new double[values.Length];
                for (var i = 0; i < values.Length; i++)
                {
                    sum[i] += shard.Samples * (double)values[i];
                }
            }

            total += shard.Samples;
        }

        foreach (var sum in sums.Values)
        {
            for (var i = 0; i < sum.Length; i++)
            {
                sum[i] /= total;
            }
        }

        return sums;
    }

    [Fact]
    public async Task Agent_killed_mid_shard_loses_its_lease_and_the_run_still_completes()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 2000);
        var data = farm.Synthesize("classifier", 240);
        var agents = await farm.StartAgentsAsync(2);

        var job = await farm.SubmitAsync($"""
            name: kill
            recipe: classifier
            dataset: {data}
            shards: 2
            rounds: 1
            local: {"{"} epochs: 2, batch_size: 8 {"}"}
            """);

        // As soon as the first agent holds a lease, it dies as a crashed node would.
        var victim = agents[0];
        await FarmFixture.WaitUntilAsync(
            () => farm.Scheduler.GetManifest(job.Id)!.Rounds.FirstOrDefault()?.Attempts.Any(a => a.AgentId == victim.Id) == true,
            TimeSpan.FromSeconds(30), () => "the victim never got a lease");
        victim.Kill();

        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");
        var attempts = farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts;
        var lost = Assert.Single(attempts, a => a.AgentId == victim.Id);
        Assert.Equal(AttemptOutcomes.Expired, lost.Outcome);
        var redo = Assert.Single(attempts, a => a.Shard == lost.Shard && a.Outcome == AttemptOutcomes.Succeeded);
        Assert.Equal(agents[1].Id, redo.AgentId);
        Assert.True(redo.LeaseEpoch > lost.LeaseEpoch);
    }
}
