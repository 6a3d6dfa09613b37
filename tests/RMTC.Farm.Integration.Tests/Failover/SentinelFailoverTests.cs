using System.Diagnostics;
using System.Text.RegularExpressions;
using Grpc.Net.Client;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;
using Xunit.Abstractions;

namespace RMTC.Farm.Integration.Tests.Failover;

/// <summary>
/// A coordinator whose store is Redis behind Sentinel (a primary, two replicas, three sentinels, all real processes),
/// real agents training: the Redis primary is SIGKILLed mid-run, Sentinel promotes a replica, the coordinator follows
/// it, the run completes and verifies, and every result an agent saw acknowledged is in the stored manifest.
/// </summary>
public sealed partial class SentinelFailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Redis_primary_killed_mid_run_sentinel_promotes_a_replica_and_nothing_acknowledged_is_lost()
    {
        var root = Directory.CreateTempSubdirectory("rmtc-sentinel-failover-").FullName;
        var agents = new List<AgentProcess>();
        CoordinatorProcess? coordinator = null;
        await using var redis = await SentinelRedis.StartAsync(replicas: 2, sentinels: 3);
        try
        {
            var data = Path.Combine(root, "data");
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", data, 320, seed: 5);
            coordinator = await CoordinatorProcess.StartAsync(Path.Combine(root, "farm"), CoordinatorProcess.FreePort(), environment: new Dictionary<string, string>
            {
                ["RMTC_Coordinator__RedisSentinels"] = redis.Sentinels,
                ["RMTC_Coordinator__RedisServiceName"] = SentinelRedis.ServiceName,
            });
            Assert.Contains("writes on 1 replica(s) before they count", coordinator.Output, StringComparison.Ordinal);
            for (var i = 1; i <= 2; i++)
            {
                agents.Add(AgentProcess.Start(coordinator.Address, $"sentinel-agent-{i}", Path.Combine(root, "agents", $"a{i}")));
            }

            using var channel = GrpcChannel.ForAddress(coordinator.Address);
            var jobs = new JobService.JobServiceClient(channel);
            var job = (await jobs.SubmitJobAsync(new SubmitJobRequest
            {
                SpecYaml = $"name: sentinel\nrecipe: classifier\ndataset: {data}\nshards: 4\nrounds: 3\nlocal: {{ epochs: 30, batch_size: 4 }}\n",
                SourceName = "sentinel.yaml",
            })).Job.Id;

            // Mid-run: the store holds some of round 1's results, not all.
            await FarmFixture.WaitUntilAsync(() =>
            {
                var stored = CoordinatorCrashTests.TryReadManifest("", job, redis.FirstPrimary);
                var done = stored?.Rounds.Count == 1 ? stored.Rounds[0].Shards.Count(s => s.ResultDigest is not null) : 0;
                return done is >= 1 and < 4;
            }, TimeSpan.FromSeconds(120), () => "round 1 never got half-way:\n" + coordinator.Output);

            var acknowledgedBefore = Acknowledged(agents).Count;
            var killed = Stopwatch.StartNew();
            await redis.KillAsync(redis.FirstPrimary);
            string? promoted = null;
            await FarmFixture.WaitUntilAsync(() => (promoted = redis.PrimaryAsync().GetAwaiter().GetResult()) is { } p && p != redis.FirstPrimary,
                TimeSpan.FromSeconds(30), () => "Sentinel promoted no replica:\n" + redis.Output);
            var promotedAfter = killed.Elapsed;
            // Serving again: an agent's result acknowledged after the kill (acknowledged only once stored on a replica).
            await FarmFixture.WaitUntilAsync(() => Acknowledged(agents).Count > acknowledgedBefore, TimeSpan.FromSeconds(60),
                () => "no result was acknowledged after the failover:\n" + coordinator.Output + string.Join("\n", agents.Select(a => a.Output)));
            var servingAfter = killed.Elapsed;
            output.WriteLine($"Redis primary SIGKILLed: Sentinel named {promoted} after {promotedAfter.TotalSeconds:F2} s; the next result acknowledged after {servingAfter.TotalSeconds:F2} s");

            await FarmFixture.WaitUntilAsync(() => jobs.GetJob(new GetJobRequest { JobId = job }).State is JobState.Succeeded or JobState.Failed,
                TimeSpan.FromMinutes(3), () => "the run did not finish after the failover:\n" + coordinator.Output + string.Join("\n", agents.Select(a => a.Output)));
            var (verify, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "verify", job, "--coordinator", coordinator.Address);
            Assert.True(verify == 0, text);

            // Read from the promoted primary itself, not through the coordinator's memory.
            var stored = CoordinatorCrashTests.TryReadManifest("", job, promoted!) ?? throw new InvalidOperationException($"no manifest of {job} on {promoted}");
            Assert.True(stored.State == RunStates.Succeeded, stored.Error + "\n" + coordinator.Output);
            var attempts = stored.Rounds.SelectMany(r => r.Attempts).ToList();
            var acknowledged = Acknowledged(agents);
            Assert.True(acknowledged.Count >= 12, $"{acknowledged.Count} results acknowledged:\n" + string.Join("\n", agents.Select(a => a.Output)));
            foreach (var (lease, digest) in acknowledged)
            {
                // The run's prepare task delivers its initial weights; every other lease is a shard attempt.
                var recorded = lease.Contains("/prepare/", StringComparison.Ordinal)
                    ? stored.InitialWeightsDigest?.EndsWith(digest, StringComparison.Ordinal) == true
                    : attempts.Any(a => a.LeaseId == lease && a.ResultDigest?.EndsWith(digest, StringComparison.Ordinal) == true);
                Assert.True(recorded,
                    $"lease {lease}: result {digest} was acknowledged to its agent but is not in the manifest on {promoted}");
            }

            Assert.All(agents, a => Assert.False(a.Process.HasExited, a.Output));
            Assert.DoesNotContain("Stepped down", coordinator.Output, StringComparison.Ordinal);
            Assert.False(coordinator.Process.HasExited, coordinator.Output);
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

    /// <summary>Every (lease, result digest) an agent logged as acknowledged by the coordinator.</summary>
    private static List<(string Lease, string Digest)> Acknowledged(IEnumerable<AgentProcess> agents) =>
        agents.SelectMany(a => UploadedLine().Matches(a.Output)).Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();

    [GeneratedRegex(@"Lease (\S+): result ([0-9a-f]{64}) uploaded")]
    private static partial Regex UploadedLine();
}
