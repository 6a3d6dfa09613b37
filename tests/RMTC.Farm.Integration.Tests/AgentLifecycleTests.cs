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
    public async Task Cancelling_a_job_stops_the_running_trainer_process_group()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 200);
        await farm.StartAgentsAsync(1);
        var job = await farm.SubmitAsync($"""
            name: long
            recipe: classifier
            dataset: {data}
            shards: 1
            rounds: 1
            local: {"{"} epochs: 500, batch_size: 4 {"}"}
            """);

        // Wait until the trainer is really training (it reports progress), then cancel the job.
        using (var watch = farm.Jobs.WatchJob(new WatchJobRequest { JobId = job.Id }))
        {
            while (await watch.ResponseStream.MoveNext(CancellationToken.None))
            {
                if (watch.ResponseStream.Current is { Kind: "shard-progress" } e && e.Message.Contains("samples"))
                {
                    break;
                }
            }
        }

        Assert.NotEmpty(TrainerProcesses(farm.Root));
        var cancelled = await farm.Jobs.CancelJobAsync(new CancelJobRequest { JobId = job.Id, Reason = "wrangler changed their mind" });
        Assert.Equal(JobState.Cancelled, cancelled.State);

        await FarmFixture.WaitUntilAsync(() => TrainerProcesses(farm.Root).Count == 0, TimeSpan.FromSeconds(20),
            () => "the trainer is still running:\n" + farm.AgentLogs());
        var attempt = Assert.Single(farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts);
        Assert.Equal(AttemptOutcomes.Cancelled, attempt.Outcome);
        Assert.Equal("wrangler changed their mind", farm.Scheduler.GetManifest(job.Id)!.Error);
    }

    /// <summary>Pids of `rmtc shard run` processes whose task file lies under <paramref name="root"/>.</summary>
    private static List<int> TrainerProcesses(string root)
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
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains("shard run", StringComparison.Ordinal) && cmdline.Contains(root, StringComparison.Ordinal))
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
