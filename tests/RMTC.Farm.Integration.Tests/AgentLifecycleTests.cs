using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>The agent daemon's life on a farm: coordinators come and go, jobs are cancelled under it.</summary>
public sealed class AgentLifecycleTests
{
    [Fact]
    public async Task Agent_reconnects_with_backoff_when_the_coordinator_comes_back()
    {
        await using var farm = await FarmFixture.StartAsync();
        var agent = (await farm.StartAgentsAsync(1))[0];

        await farm.RestartCoordinatorAsync(TimeSpan.FromSeconds(1));
        await FarmFixture.WaitUntilAsync(() => farm.Scheduler.ConnectedAgents == 1, TimeSpan.FromSeconds(30),
            () => "the agent did not reconnect:\n" + agent.Output);
        Assert.False(agent.Process.HasExited);
        Assert.Contains("reconnecting", agent.Output);
    }

    [Fact]
    public async Task Cancelling_a_job_stops_the_running_cold_trainer_process_group()
    {
        // A cold trainer is the shard's own process: cancelling stops it with its group.
        await using var farm = await FarmFixture.StartAsync();
        var (_, job) = await StartLongJobAndWaitForTrainingAsync(farm, "cold");

        Assert.NotEmpty(TrainerProcesses(farm.Root));
        await CancelAsync(farm, job);

        await FarmFixture.WaitUntilAsync(() => TrainerProcesses(farm.Root).Count == 0, TimeSpan.FromSeconds(20),
            () => "the trainer is still running:\n" + farm.AgentLogs());
        AssertCancelled(farm, job);
    }

    [Fact]
    public async Task Cancelling_a_job_stops_the_task_on_a_warm_trainer_which_stays_for_the_next_shard()
    {
        await using var farm = await FarmFixture.StartAsync();
        var (agent, job) = await StartLongJobAndWaitForTrainingAsync(farm, "warm");
        var log = Path.Combine(farm.Root, "agents", agent.Id, "trainers", "trainer-1.log");
        var trainers = WarmTrainerProcesses(farm.Root);
        Assert.NotEmpty(trainers);

        await CancelAsync(farm, job);

        // Stopped by the cancel message between batches (exit code 143's meaning), not by killing the trainer.
        await FarmFixture.WaitUntilAsync(() => File.Exists(log) && File.ReadAllText(log).Contains(" ended (143)", StringComparison.Ordinal), TimeSpan.FromSeconds(20),
            () => "the task did not stop:\n" + farm.AgentLogs());
        AssertCancelled(farm, job);
        Assert.Equal(trainers, WarmTrainerProcesses(farm.Root));
    }

    private static async Task<(AgentProcess Agent, string Job)> StartLongJobAndWaitForTrainingAsync(FarmFixture farm, string mode)
    {
        var data = farm.Synthesize("classifier", 200);
        var agent = (await farm.StartAgentsAsync(1, environment: new Dictionary<string, string> { ["RMTC_Agent__Trainer__Mode"] = mode }))[0];
        var job = await farm.SubmitAsync($"""
            name: long
            recipe: classifier
            dataset: {data}
            shards: 1
            rounds: 1
            local: {"{"} epochs: 500, batch_size: 4 {"}"}
            """);

        // Wait until the trainer is really training (it reports progress).
        using var watch = farm.Jobs.WatchJob(new WatchJobRequest { JobId = job.Id });
        while (await watch.ResponseStream.MoveNext(CancellationToken.None))
        {
            if (watch.ResponseStream.Current is { Kind: "shard-progress" } e && e.Message.Contains("samples"))
            {
                break;
            }
        }

        return (agent, job.Id);
    }

    private static async Task CancelAsync(FarmFixture farm, string job)
    {
        var cancelled = await farm.Jobs.CancelJobAsync(new CancelJobRequest { JobId = job, Reason = "wrangler changed their mind" });
        Assert.Equal(JobState.Cancelled, cancelled.State);
    }

    private static void AssertCancelled(FarmFixture farm, string job)
    {
        var manifest = farm.Scheduler.GetManifest(job)!;
        var attempt = Assert.Single(manifest.Rounds[0].Attempts);
        Assert.Equal(AttemptOutcomes.Cancelled, attempt.Outcome);
        Assert.Equal("wrangler changed their mind", manifest.Error);
    }

    /// <summary>Pids of `rmtc trainer serve` processes working in a folder under <paramref name="root"/>.</summary>
    private static List<int> WarmTrainerProcesses(string root) => Processes(pid =>
        File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Contains("trainer serve", StringComparison.Ordinal)
        && (new DirectoryInfo($"/proc/{pid}/cwd").LinkTarget ?? "").StartsWith(root, StringComparison.Ordinal));

    /// <summary>Pids of `rmtc shard run` processes whose task file lies under <paramref name="root"/>.</summary>
    private static List<int> TrainerProcesses(string root) => Processes(pid =>
    {
        var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        return cmdline.Contains("shard run", StringComparison.Ordinal) && cmdline.Contains(root, StringComparison.Ordinal);
    });

    private static List<int> Processes(Func<int, bool> matches)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                if (matches(pid))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return found;
    }
}
