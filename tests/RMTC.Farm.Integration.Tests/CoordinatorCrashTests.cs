using Grpc.Net.Client;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>The coordinator dies mid-run (SIGKILL) and comes back on the same store: the run finishes, nothing is lost or redone.</summary>
public sealed class CoordinatorCrashTests
{
    [Fact]
    public async Task Coordinator_killed_mid_round_recovers_from_the_file_store() => await KillAndRecoverAsync(redis: null);

    [Fact]
    public async Task Coordinator_killed_mid_round_recovers_from_redis()
    {
        using var redis = await Fixtures.RedisServer.StartAsync();
        await KillAndRecoverAsync(redis.Endpoint);
    }

    internal static async Task KillAndRecoverAsync(string? redis)
    {
        var root = Directory.CreateTempSubdirectory("rmtc-crash-").FullName;
        var agents = new List<AgentProcess>();
        CoordinatorProcess? coordinator = null;
        try
        {
            var data = Path.Combine(root, "data");
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", data, 320, seed: 5);
            var port = CoordinatorProcess.FreePort();
            var farmDir = Path.Combine(root, "farm");
            coordinator = await CoordinatorProcess.StartAsync(farmDir, port, redis);
            for (var i = 1; i <= 2; i++)
            {
                agents.Add(AgentProcess.Start(coordinator.Address, $"crash-agent-{i}", Path.Combine(root, "agents", $"a{i}"), AgentProcess.OneSlot));
            }

            using var channel = GrpcChannel.ForAddress(coordinator.Address);
            var jobs = new JobService.JobServiceClient(channel);
            var job = (await jobs.SubmitJobAsync(new SubmitJobRequest
            {
                // Shards long enough that the store is seen between the first result and the last: warm trainers start in milliseconds.
                SpecYaml = $"name: crash\nrecipe: classifier\ndataset: {data}\nshards: 4\nrounds: 2\nlocal: {{ epochs: 40, batch_size: 4 }}\n",
                SourceName = "crash.yaml",
            })).Job;

            // Kill the coordinator once the store records some of round 1's shards merged, but not all.
            await FarmFixture.WaitUntilAsync(() =>
            {
                var stored = TryReadManifest(farmDir, job.Id, redis);
                var done = stored?.Rounds.Count == 1 ? stored.Rounds[0].Shards.Count(s => s.ResultDigest is not null) : 0;
                return done is >= 1 and < 4;
            }, TimeSpan.FromSeconds(90), () => "round 1 never got half-way:\n" + coordinator.Output);
            coordinator.Kill();
            var before = (await ReadManifestAsync(farmDir, job.Id, redis))!;
            var doneBefore = before.Rounds[0].Shards.Where(s => s.ResultDigest is not null).Select(s => s.Shard).ToList();
            Assert.NotEmpty(doneBefore);

            coordinator.Dispose();
            coordinator = await CoordinatorProcess.StartAsync(farmDir, port, redis);
            using var channel2 = GrpcChannel.ForAddress(coordinator.Address);
            var jobs2 = new JobService.JobServiceClient(channel2);
            await FarmFixture.WaitUntilAsync(() => jobs2.GetJob(new GetJobRequest { JobId = job.Id }).State is JobState.Succeeded or JobState.Failed,
                TimeSpan.FromMinutes(3), () => "the run did not finish after the restart:\n" + coordinator.Output + string.Join("\n", agents.Select(a => a.Output)));

            var after = RunManifest.FromJson((await jobs2.GetManifestAsync(new GetJobRequest { JobId = job.Id })).Json);
            Assert.True(after.State == RunStates.Succeeded, after.Error + "\n" + coordinator.Output);
            foreach (var shard in doneBefore)
            {
                // Completed before the crash: never run again, same result.
                Assert.Single(after.Rounds[0].Attempts, a => a.Shard == shard && a.Outcome == AttemptOutcomes.Succeeded);
                Assert.Equal(before.Rounds[0].Shards[shard].ResultDigest, after.Rounds[0].Shards[shard].ResultDigest);
            }

            // Agents reattached: the same two processes finished the run, none died.
            Assert.All(agents, a => Assert.False(a.Process.HasExited, a.Output));
            Assert.Subset(new HashSet<string> { "crash-agent-1", "crash-agent-2" }, after.Rounds.SelectMany(r => r.Attempts).Select(a => a.AgentId).ToHashSet());
        }
        finally
        {
            foreach (var a in agents)
            {
                a.Dispose();
            }

            coordinator?.Dispose();
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The run's manifest as the store holds it (file store under <paramref name="farmDir"/>, or Redis), null while unreadable.</summary>
    internal static RunManifest? TryReadManifest(string farmDir, string runId, string? redis)
    {
        try
        {
            return ReadManifestAsync(farmDir, runId, redis).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException or ArgumentNullException)
        {
            return null;
        }
    }

    /// <summary>Read through the store's own code: a live run's manifest is stored in parts, an ended run's whole.</summary>
    private static async Task<RunManifest?> ReadManifestAsync(string farmDir, string runId, string? redis)
    {
        if (redis is null)
        {
            var options = Microsoft.Extensions.Options.Options.Create(new RMTC.Farm.Coordinator.Hosting.CoordinatorOptions { DataDirectory = farmDir });
            return await new RMTC.Farm.Coordinator.Storage.FileRunStore(options).GetAsync(runId);
        }

        using var mux = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis);
        return await new RMTC.Farm.Coordinator.Storage.RedisRunStore(mux, Microsoft.Extensions.Logging.Abstractions.NullLogger<RMTC.Farm.Coordinator.Storage.RedisRunStore>.Instance).GetAsync(runId);
    }
}
