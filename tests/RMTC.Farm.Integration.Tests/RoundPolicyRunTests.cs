using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// Round policies on real agent processes: a slow node (its training simulated as a long wait) is overtaken by a
/// speculative lease, or left out of a round closed by its quorum, and every run still completes and verifies.
/// </summary>
public sealed class RoundPolicyRunTests
{
    private static Dictionary<string, string> Simulating(int ms) => new() { ["RMTC_Agent__SimulateTrainingMs"] = ms.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    [Fact]
    public async Task A_straggling_node_is_overtaken_by_a_speculative_lease_and_told_to_stop()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 40);
        await farm.StartAgentsAsync(1, "slow", Simulating(120_000));
        var job = await farm.SubmitAsync($"name: straggler\nrecipe: classifier\ndataset: {data}\nshards: 1\nrounds: 1\nround_policy:\n  straggler_after: 2s\n");
        await FarmFixture.WaitUntilAsync(() => farm.Scheduler.GetJob(job.Id)!.ShardsRunning == 1, TimeSpan.FromSeconds(30), () => "the slow node never took the shard");
        await farm.StartAgentsAsync(1, "fast", Simulating(100));

        var done = await farm.WaitAsync(job.Id, TimeSpan.FromSeconds(60));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");
        var attempts = farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts;
        Assert.Equal(AttemptOutcomes.Cancelled, attempts.Single(a => a.AgentId.StartsWith("slow", StringComparison.Ordinal)).Outcome);
        Assert.Equal(AttemptOutcomes.Succeeded, attempts.Single(a => a.AgentId.StartsWith("fast", StringComparison.Ordinal)).Outcome);
        var verify = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "verify", job.Id, "--coordinator", farm.Address);
        Assert.True(verify.ExitCode == 0, verify.Output);
    }

    [Fact]
    public async Task Rounds_close_at_their_quorum_without_the_slow_node_and_the_manifest_says_which_shard_was_left_out()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 60);
        await farm.StartAgentsAsync(1, "slow", Simulating(120_000));
        await farm.StartAgentsAsync(2, "fast", Simulating(100));
        await FarmFixture.WaitUntilAsync(() => farm.Scheduler.ConnectedAgents == 3, TimeSpan.FromSeconds(30), () => "the agents never connected");
        var job = await farm.SubmitAsync($"name: quorum\nrecipe: classifier\ndataset: {data}\nshards: 3\nrounds: 2\nround_policy:\n  close: quorum\n  quorum: 2\n  deadline: 3s\n");

        var done = await farm.WaitAsync(job.Id, TimeSpan.FromSeconds(90));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");
        var manifest = farm.Scheduler.GetManifest(job.Id)!;
        // Each agent takes one shard of round 1; later rounds too, unless the slow node was still winding down.
        Assert.Contains(manifest.Rounds[0].Attempts, a => a.AgentId.StartsWith("slow", StringComparison.Ordinal));
        foreach (var round in manifest.Rounds)
        {
            var slow = round.Attempts.Where(a => a.AgentId.StartsWith("slow", StringComparison.Ordinal)).ToList();
            if (slow.Count == 0)
            {
                Assert.Null(round.Quorum);
                continue;
            }

            Assert.All(slow, a => Assert.Equal(AttemptOutcomes.Cancelled, a.Outcome));
            Assert.NotNull(round.Quorum);
            Assert.Equal(slow.Select(a => a.Shard).Distinct().Order(), round.Quorum!.UnmergedShards.Order());
            Assert.Equal(round.Shards.Count - round.Quorum.UnmergedShards.Count, round.MergedResults.Count);
        }
    }
}
