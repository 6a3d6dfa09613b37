using System.Text.RegularExpressions;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// Fencing across a double crash: redis-server is SIGKILLed, the coordinator goes on granting leases it cannot record,
/// then it is SIGKILLed too, and both restart on the same store. No (shard, epoch) may ever be granted twice.
/// </summary>
public sealed partial class LeaseEpochCrashTests
{
    [Fact]
    public async Task Lease_epochs_are_never_granted_twice_when_redis_and_then_the_coordinator_are_killed()
    {
        using var redis = await Fixtures.RedisServer.StartAsync();
        var root = Directory.CreateTempSubdirectory("rmtc-epochs-").FullName;
        var agents = new List<AgentProcess>();
        var coordinators = new List<CoordinatorProcess>();
        try
        {
            var data = Path.Combine(root, "data");
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", data, 240, seed: 5);
            var port = CoordinatorProcess.FreePort();
            var farmDir = Path.Combine(root, "farm");
            coordinators.Add(await CoordinatorProcess.StartAsync(farmDir, port, redis.Endpoint));
            var first = coordinators[0];
            for (var i = 1; i <= 2; i++)
            {
                agents.Add(AgentProcess.Start(first.Address, $"epoch-agent-{i}", Path.Combine(root, "agents", $"a{i}")));
            }

            using var channel = GrpcChannel.ForAddress(first.Address);
            var jobs = new JobService.JobServiceClient(channel);
            var job = (await jobs.SubmitJobAsync(new SubmitJobRequest
            {
                SpecYaml = $"name: epochs\nrecipe: classifier\ndataset: {data}\nshards: 6\nrounds: 3\nmax_retries: 8\nlocal: {{ epochs: 20, batch_size: 8 }}\n",
                SourceName = "epochs.yaml",
            })).Job;

            // Mid-round: a result merged (so leases keep going out as results arrive), then Redis dies.
            await FarmFixture.WaitUntilAsync(() => jobs.GetManifest(new GetJobRequest { JobId = job.Id }).Json is { } json
                    && RunManifest.FromJson(json).Rounds.Sum(r => r.MergedResults.Count) >= 1,
                TimeSpan.FromSeconds(120), () => "no result was merged:\n" + first.Output);
            await redis.KillAsync();
            var grantedBefore = Grants(first.Output).Count;

            // The coordinator keeps granting while its records cannot land; then it dies too.
            await FarmFixture.WaitUntilAsync(() => Grants(first.Output).Count > grantedBefore, TimeSpan.FromSeconds(120),
                () => "no lease was granted while Redis was down:\n" + first.Output);
            first.Kill();

            await redis.RestartAsync();
            coordinators.Add(await CoordinatorProcess.StartAsync(farmDir, port, redis.Endpoint));
            var second = coordinators[1];
            using var channel2 = GrpcChannel.ForAddress(second.Address);
            var jobs2 = new JobService.JobServiceClient(channel2);
            await FarmFixture.WaitUntilAsync(() => jobs2.GetJob(new GetJobRequest { JobId = job.Id }).State is JobState.Succeeded or JobState.Failed,
                TimeSpan.FromMinutes(4), () => "the run did not finish after the restarts:\n" + second.Output + string.Join("\n", agents.Select(a => a.Output)));

            var manifest = RunManifest.FromJson((await jobs2.GetManifestAsync(new GetJobRequest { JobId = job.Id })).Json);
            Assert.True(manifest.State == RunStates.Succeeded, manifest.Error + "\n" + second.Output);
            using var mux = await redis.ConnectAsync();
            var events = await new RedisRunStore(mux, NullLogger<RedisRunStore>.Instance).ReadEventsAsync(job.Id);

            // Every grant either coordinator logged, each (shard, epoch) once: a lost grant is never made again.
            var grants = coordinators.SelectMany(c => Grants(c.Output)).Where(g => g.RunId == job.Id).ToList();
            AssertUnique(grants.Select(g => (g.Shard, g.Epoch)), "coordinator logs", second.Output);

            // What agents received: each lease (run, round, shard, epoch) reached one agent once.
            var received = agents.SelectMany(a => AssignedRegex().Matches(a.Output).Select(m => m.Groups[1].Value)).Where(l => l.StartsWith(job.Id, StringComparison.Ordinal)).ToList();
            AssertUnique(received, "agent logs", second.Output);

            // The durable record agrees: attempts and shard-leased events, each (shard, epoch) once.
            AssertUnique(manifest.Rounds.SelectMany(r => r.Attempts).Select(a => (a.Shard, a.LeaseEpoch)), "manifest attempts", second.Output);
            var leased = events.Where(e => e.Kind == "shard-leased").Select(e => ((int)e.Data["shard"]!, (long)e.Data["epoch"]!)).ToList();
            Assert.NotEmpty(leased);
            AssertUnique(leased, "shard-leased events", second.Output);
            Assert.Contains("lease epochs continue above", second.Output, StringComparison.Ordinal);

            // The crash did lose a grant's record (the case this is about): one the first coordinator made is in no attempt.
            Assert.Contains(grants, g => !manifest.Rounds.SelectMany(r => r.Attempts).Any(a => a.Shard == g.Shard && a.LeaseEpoch == g.Epoch));
        }
        finally
        {
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

    private static void AssertUnique<T>(IEnumerable<T> items, string where, string log)
    {
        var repeated = items.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => $"{g.Key} x{g.Count()}").ToList();
        Assert.True(repeated.Count == 0, $"granted more than once in the {where}: {string.Join(", ", repeated)}\n{log}");
    }

    private static List<(string RunId, int Round, int Shard, long Epoch, string Agent)> Grants(string output) =>
        GrantedRegex().Matches(output).Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture), long.Parse(m.Groups[4].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[5].Value)).ToList();

    [GeneratedRegex(@"Run (\S+) round (\d+) shard (\d+): lease epoch (\d+) granted to agent (\S+)")]
    private static partial Regex GrantedRegex();

    [GeneratedRegex(@"Lease (\S+): run \S+ round \d+ shard \d+ \(")]
    private static partial Regex AssignedRegex();
}
