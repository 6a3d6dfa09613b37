using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>The agent's benchmark simulation: real agent processes, training replaced by a wait, named as simulated in lineage.</summary>
public sealed class SimulatedTrainingTests
{
    [Fact]
    public async Task An_agent_simulating_training_waits_returns_the_global_weights_and_says_so_in_lineage()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 40);
        await farm.StartAgentsAsync(2, "sim", new Dictionary<string, string> { ["RMTC_Agent__SimulateTrainingMs"] = "300" });

        var job = await farm.SubmitAsync($"name: sim\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 2\n");
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(2));

        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");
        var manifest = farm.Scheduler.GetManifest(job.Id)!;
        var attempts = manifest.Rounds.SelectMany(r => r.Attempts).Where(a => a.Outcome == AttemptOutcomes.Succeeded).ToList();
        Assert.Equal(4, attempts.Count);
        Assert.All(attempts, a => Assert.Equal("simulated", a.Device));
        Assert.All(attempts, a => Assert.True(a.EndedAt!.Value - a.StartedAt >= TimeSpan.FromMilliseconds(300), "the simulated training did not wait"));
        // Unchanged weights averaged are the same weights: every round's output is its input.
        Assert.All(manifest.Rounds, r => Assert.Equal(r.InputDigest, Assert.Single(r.MergedResults.Distinct())));
    }
}
