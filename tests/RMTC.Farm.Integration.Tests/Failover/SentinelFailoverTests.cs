using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;
using Xunit.Abstractions;

namespace RMTC.Farm.Integration.Tests.Failover;

/// <summary>
/// Coordinators whose store is Redis behind Sentinel (a primary, two replicas, three sentinels, all real processes),
/// real agents training: the Redis primary is SIGKILLed mid-run, Sentinel promotes a replica, the store follows it,
/// the run completes and verifies, and every result an agent saw acknowledged is in the manifest on the new primary.
/// </summary>
public sealed partial class SentinelFailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Redis_primary_killed_mid_run_sentinel_promotes_a_replica_and_nothing_acknowledged_is_lost() =>
        await RunThroughFailoverAsync(leaders: false);

    [Fact]
    public async Task With_a_leader_and_a_standby_a_redis_failover_loses_nothing_acknowledged() =>
        // A failover that outlasts the leader lease (3 s here) makes the leader step down and the standby take over;
        // a shorter one the leader rides through. Either way the run completes with nothing acknowledged lost.
        await RunThroughFailoverAsync(leaders: true);

    /// <summary>
    /// The failover scenario with one coordinator (it must ride through: its journal retries the writes) or a leader
    /// and a standby (one that steps down exits 75; one is left).
    /// </summary>
    private async Task RunThroughFailoverAsync(bool leaders)
    {
        var root = Directory.CreateTempSubdirectory("rmtc-sentinel-failover-").FullName;
        var agents = new List<AgentProcess>();
        var coordinators = new List<CoordinatorProcess>();
        var channels = new List<GrpcChannel>();
        await using var redis = await SentinelRedis.StartAsync(replicas: 2, sentinels: 3);
        try
        {
            var data = Path.Combine(root, "data");
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", data, 320, seed: 5);
            for (var i = 0; i < (leaders ? 2 : 1); i++)
            {
                var port = CoordinatorProcess.FreePort();
                var environment = new Dictionary<string, string>
                {
                    ["RMTC_Coordinator__RedisSentinels"] = redis.Sentinels,
                    ["RMTC_Coordinator__RedisServiceName"] = SentinelRedis.ServiceName,
                };
                if (leaders)
                {
                    environment["RMTC_Coordinator__Leadership__Enabled"] = "true";
                    environment["RMTC_Coordinator__Leadership__AdvertisedAddress"] = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
                    // Longer than a failover (about 2.3 s to promote, then the client's reconnect), as the README advises:
                    // with 3 s both coordinators could lose the lease in turn and step down, with no supervisor here to
                    // start them again.
                    environment["RMTC_Coordinator__Leadership__LeaseMs"] = "6000";
                    environment["RMTC_Coordinator__Leadership__RenewIntervalMs"] = "1000";
                    environment["Logging__LogLevel__Default"] = "Information";
                }

                var coordinator = await CoordinatorProcess.StartAsync(Path.Combine(root, "farm"), port, environment: environment);
                coordinators.Add(coordinator);
                await FarmFixture.WaitUntilAsync(() => coordinator.Output.Contains("writes on 1 replica(s) before they count", StringComparison.Ordinal), TimeSpan.FromSeconds(30),
                    () => "the coordinator does not say it waits for a replica:\n" + coordinator.Output);
                channels.Add(GrpcChannel.ForAddress(coordinator.Address));
                // The first one leads: the standby starts once it serves.
                await FarmFixture.WaitUntilAsync(() => Serving(channels[0]), TimeSpan.FromSeconds(30), () => "the coordinator never served:\n" + coordinator.Output);
            }

            var addresses = string.Join(',', coordinators.Select(c => c.Address));
            for (var i = 1; i <= 2; i++)
            {
                agents.Add(AgentProcess.Start(addresses, $"sentinel-agent-{i}", Path.Combine(root, "agents", $"a{i}")));
            }

            var job = (await new JobService.JobServiceClient(channels[0]).SubmitJobAsync(new SubmitJobRequest
            {
                SpecYaml = $"name: sentinel\nrecipe: classifier\ndataset: {data}\nshards: 4\nrounds: 3\nlocal: {{ epochs: 30, batch_size: 4 }}\n",
                SourceName = "sentinel.yaml",
            })).Job.Id;
            string Everything() => string.Join("\n", coordinators.Select(c => c.Output).Concat(agents.Select(a => a.Output)));

            // Mid-run: the store holds some results, and at least a round's worth are still to come. Any round will do:
            // a poll opens a fresh connection, and a CI run saw round 1 (about a second with warm trainers) pass
            // between two polls.
            await FarmFixture.WaitUntilAsync(() =>
            {
                var stored = CoordinatorCrashTests.TryReadManifest("", job, redis.FirstPrimary);
                var done = stored is null || stored.State != RunStates.Running ? 0 : stored.Rounds.Sum(r => r.Shards.Count(s => s.ResultDigest is not null));
                return done is >= 1 and <= 8;
            }, TimeSpan.FromSeconds(120), () => "the run never got under way:\n" + Everything());

            var acknowledgedBefore = Acknowledged(agents).Count;
            var killed = Stopwatch.StartNew();
            await redis.KillAsync(redis.FirstPrimary);
            string? promoted = null;
            await FarmFixture.WaitUntilAsync(() => (promoted = redis.PrimaryAsync().GetAwaiter().GetResult()) is { } p && p != redis.FirstPrimary,
                TimeSpan.FromSeconds(30), () => "Sentinel promoted no replica:\n" + redis.Output);
            var promotedAfter = killed.Elapsed;
            // Serving again: an agent's result acknowledged after the kill (acknowledged only once a replica has it).
            await FarmFixture.WaitUntilAsync(() => Acknowledged(agents).Count > acknowledgedBefore, TimeSpan.FromSeconds(60),
                () => "no result was acknowledged after the failover:\n" + Everything());
            var servingAfter = killed.Elapsed;
            output.WriteLine($"Redis primary SIGKILLed: Sentinel named {promoted} after {promotedAfter.TotalSeconds:F2} s; the next result acknowledged after {servingAfter.TotalSeconds:F2} s");

            await FarmFixture.WaitUntilAsync(() => channels.Any(c => State(c, job) is JobState.Succeeded or JobState.Failed),
                TimeSpan.FromMinutes(3), () => "the run did not finish after the failover:\n" + Everything());
            var (verify, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "verify", job, "--coordinator", addresses);
            Assert.True(verify == 0, text);

            // Read from the promoted primary itself, not through a coordinator's memory.
            // The run's end is written by the journal after the state changes in memory: wait for it to land.
            RunManifest? found = null;
            await FarmFixture.WaitUntilAsync(() => (found = CoordinatorCrashTests.TryReadManifest("", job, promoted!))?.State == RunStates.Succeeded,
                TimeSpan.FromSeconds(30), () => $"the manifest of {job} on {promoted} does not say succeeded ({found?.State}: {found?.Error}):\n" + Everything());
            var stored = found!;
            var attempts = stored.Rounds.SelectMany(r => r.Attempts).ToList();
            var acknowledged = Acknowledged(agents);
            Assert.True(acknowledged.Count >= 12, $"{acknowledged.Count} results acknowledged:\n" + Everything());
            foreach (var (lease, digest) in acknowledged)
            {
                // The run's prepare task delivers its initial weights; every other lease is a shard attempt.
                var recorded = lease.Contains("/prepare/", StringComparison.Ordinal)
                    ? stored.InitialWeightsDigest.EndsWith(digest, StringComparison.Ordinal)
                    : attempts.Any(a => a.LeaseId == lease && a.ResultDigest?.EndsWith(digest, StringComparison.Ordinal) == true);
                Assert.True(recorded, $"lease {lease}: result {digest} was acknowledged to its agent but is not in the manifest on {promoted}");
            }

            Assert.All(agents, a => Assert.False(a.Process.HasExited, a.Output));
            foreach (var c in coordinators)
            {
                output.WriteLine($"{c.Address}: {(c.Process.HasExited ? $"exited {c.Process.ExitCode}" : "running")}; "
                    + string.Join("; ", c.Output.Split('\n').Where(l => l.Contains("Stepped down", StringComparison.Ordinal) || l.Contains("Took", StringComparison.Ordinal)).Select(l => l.Trim())));
            }

            var exited = coordinators.Where(c => c.Process.HasExited).ToList();
            Assert.All(exited, c => Assert.True(leaders && c.Process.ExitCode == 75, $"exit {c.Process.ExitCode}:\n{c.Output}"));
            Assert.True(exited.Count < coordinators.Count, "no coordinator is left");
        }
        finally
        {
            foreach (var c in channels)
            {
                c.Dispose();
            }

            foreach (var a in agents)
            {
                a.Dispose();
            }

            foreach (var c in coordinators)
            {
                c.Dispose();
            }

            Directory.Delete(root, recursive: true);
        }
    }

    private static bool Serving(GrpcChannel channel)
    {
        try
        {
            new JobService.JobServiceClient(channel).ListJobs(new ListJobsRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
            return true;
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
        {
            return false;
        }
    }

    /// <summary>The run's state as a coordinator that serves says it; null from a standby, a stepped-down or dead one.</summary>
    private static JobState? State(GrpcChannel channel, string job)
    {
        try
        {
            return new JobService.JobServiceClient(channel).GetJob(new GetJobRequest { JobId = job }, deadline: DateTime.UtcNow.AddSeconds(5)).State;
        }
        catch (RpcException)
        {
            return null;
        }
    }

    /// <summary>Every (lease, result digest) an agent logged as acknowledged by the coordinator.</summary>
    internal static List<(string Lease, string Digest)> Acknowledged(IEnumerable<AgentProcess> agents) =>
        agents.SelectMany(a => UploadedLine().Matches(a.Output)).Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();

    [GeneratedRegex(@"Lease (\S+): result ([0-9a-f]{64}) uploaded")]
    private static partial Regex UploadedLine();
}
