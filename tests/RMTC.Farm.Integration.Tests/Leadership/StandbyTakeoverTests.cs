using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Protos.Client;
using RMTC.Farm.Protos.V1;
using Xunit.Abstractions;

namespace RMTC.Farm.Integration.Tests.Leadership;

/// <summary>
/// Two coordinator processes over one redis-server and one data directory, real agents given both addresses: the
/// leader dies (SIGKILL) or freezes past its lease (SIGSTOP, then SIGCONT) mid-run, and the standby takes over, recovers
/// the run and finishes it; the frozen one steps down on waking without writing.
/// </summary>
public sealed class StandbyTakeoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Leader_killed_mid_run_the_standby_leads_within_5_s_and_the_run_completes_and_verifies()
    {
        await using var farm = await TwoCoordinatorFarm.StartAsync("kill");
        var (a, b) = (farm.Leader, farm.Standby);

        // The standby refuses clearly and names the leader; the CLI given only the standby follows it.
        var refusal = await Assert.ThrowsAsync<RpcException>(async () => await farm.Jobs(b).ListJobsAsync(new ListJobsRequest()));
        Assert.Equal(StatusCode.Unavailable, refusal.StatusCode);
        Assert.Equal(a.Address, LeaderHint.Of(refusal));
        Assert.Contains($"the leader is {a.Address}", refusal.Status.Detail, StringComparison.Ordinal);
        var (code, status) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "status", "--coordinator", b.Address);
        Assert.True(code == 0, status);

        Assert.Equal((0, 0), await farm.LeadershipMetricsAsync(b));
        Assert.Equal((1, 1), await farm.LeadershipMetricsAsync(a));
        // The standby's Explorer says who leads instead of showing an empty farm; the leader's shows the farm.
        var (explorer, said) = await farm.ExplorerAsync(b, "api/farm");
        Assert.True(explorer == System.Net.HttpStatusCode.ServiceUnavailable, said);
        Assert.Contains($"the leader is {a.Address}", said, StringComparison.Ordinal);
        (explorer, said) = await farm.ExplorerAsync(b, "");
        Assert.True(explorer == System.Net.HttpStatusCode.ServiceUnavailable && said.Contains("http-equiv=\"refresh\"", StringComparison.Ordinal), said);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await farm.ExplorerAsync(a, "api/farm")).Status);

        var (job, doneBefore, before) = await farm.SubmitAndWaitMidRoundAsync();
        // A wrangler watching the run, given both addresses, rides through the takeover.
        using var watch = new CliProcess("watch", job, "--coordinator", $"{a.Address},{b.Address}");
        await FarmFixture.WaitUntilAsync(() => watch.Output.Contains(" submitted ", StringComparison.Ordinal), TimeSpan.FromSeconds(60), () => "the watcher printed nothing:\n" + watch.Output);
        var killed = Stopwatch.StartNew();
        a.Kill();
        await farm.WaitForLeaseHolderAsync(b.Address, TimeSpan.FromSeconds(10));
        var took = killed.Elapsed;
        await farm.WaitServingAsync(b, TimeSpan.FromSeconds(30));
        var serving = killed.Elapsed;
        output.WriteLine($"takeover: lease taken {took.TotalSeconds:F2} s after SIGKILL, serving after {serving.TotalSeconds:F2} s");
        output.WriteLine(string.Join("\n", b.Output.Split('\n').Where(l => l.Contains("Took over", StringComparison.Ordinal) || l.Contains("Took the leader lease", StringComparison.Ordinal))));
        Assert.True(took < TimeSpan.FromSeconds(5), $"the standby took the lease {took.TotalSeconds:F2} s after the leader died (lease 3 s):\n{b.Output}");

        Assert.Equal((1, 1), await farm.LeadershipMetricsAsync(b));
        Assert.Equal(System.Net.HttpStatusCode.OK, (await farm.ExplorerAsync(b, "api/farm")).Status);

        var after = await farm.WaitFinishedAsync(b, job);
        farm.AssertNothingRedone(before, doneBefore, after);
        // The CLI given both addresses, the dead leader first, reaches the new one.
        var (verify, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "verify", job, "--coordinator", $"{a.Address},{b.Address}");
        Assert.True(verify == 0, text);
        farm.AssertAgentsAlive();
        await FarmFixture.WaitUntilAsync(() => watch.Process.HasExited, TimeSpan.FromSeconds(60), () => "the watcher did not end with the run:\n" + watch.Output);
        Assert.True(watch.Process.ExitCode == 0, $"watch exit {watch.Process.ExitCode}:\n{watch.Output}");
        Assert.EndsWith("run succeeded", watch.Output.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Leader_paused_past_its_lease_steps_down_on_waking_and_writes_nothing()
    {
        await using var farm = await TwoCoordinatorFarm.StartAsync("pause");
        var (a, b) = (farm.Leader, farm.Standby);
        var (job, doneBefore, before) = await farm.SubmitAndWaitMidRoundAsync();

        CoordinatorPair.Signal(a.Process, pause: true);
        var paused = Stopwatch.StartNew();
        try
        {
            await farm.WaitForLeaseHolderAsync(b.Address, TimeSpan.FromSeconds(10));
            output.WriteLine($"lease taken {paused.Elapsed.TotalSeconds:F2} s after SIGSTOP");
            await farm.WaitServingAsync(b, TimeSpan.FromSeconds(30));
        }
        finally
        {
            CoordinatorPair.Signal(a.Process, pause: false);
        }

        // Awake, the old leader finds its lease gone (or its writes refused by the fence), stops serving and exits 75.
        await FarmFixture.WaitUntilAsync(() => a.Process.HasExited, TimeSpan.FromSeconds(30), () => "the paused leader did not step down:\n" + a.Output);
        Assert.True(a.Process.ExitCode == 75, $"exit code {a.Process.ExitCode}:\n{a.Output}");
        Assert.Contains("Stepped down as leader", a.Output, StringComparison.Ordinal);

        var after = await farm.WaitFinishedAsync(b, job);
        farm.AssertNothingRedone(before, doneBefore, after);
        // Nothing the old leader did after waking reached the store: the chain B continued verifies whole.
        var (verify, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "verify", job, "--coordinator", $"{a.Address},{b.Address}");
        Assert.True(verify == 0, text);
        Assert.Equal(b.Address, (await farm.LeaseHolderAsync())?.Address);
        farm.AssertAgentsAlive();
    }

    [Fact]
    public async Task A_run_survives_three_leader_failovers_in_a_row_with_nothing_acknowledged_lost()
    {
        await using var farm = await TwoCoordinatorFarm.StartAsync("three");
        var addresses = $"{farm.Leader.Address},{farm.Standby.Address}";
        var (job, _, _) = await farm.SubmitAndWaitMidRoundAsync(rounds: 4);
        var results = 0;
        for (var failover = 1; failover <= 3; failover++)
        {
            // Some work lands between failovers: each leader leases, merges and records before it dies.
            var before = results;
            await FarmFixture.WaitUntilAsync(() => (results = farm.StoredResults(job)) > before, TimeSpan.FromMinutes(2),
                () => $"no result was stored after failover {failover - 1}:\n{farm.Leader.Output}");
            Assert.True(results < 16, $"the run ended before failover {failover}: make its shards longer");
            var (took, serving) = await farm.FailOverAsync();
            output.WriteLine($"failover {failover} after {results} stored results: lease taken {took.TotalSeconds:F2} s after SIGKILL, serving after {serving.TotalSeconds:F2} s");
            Assert.True(took < TimeSpan.FromSeconds(5), $"failover {failover}: the standby took the lease {took.TotalSeconds:F2} s after the leader died (lease 3 s):\n{farm.Leader.Output}");
        }

        var after = await farm.WaitFinishedAsync(farm.Leader, job);
        var (verify, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "verify", job, "--coordinator", addresses);
        Assert.True(verify == 0, text);
        // Every result an agent was told is stored is in the manifest, and no lease epoch of a shard was granted twice.
        var attempts = after.Rounds.SelectMany(r => r.Attempts).ToList();
        foreach (var (lease, digest) in farm.Acknowledged())
        {
            var recorded = lease.Contains("/prepare/", StringComparison.Ordinal)
                ? after.InitialWeightsDigest.EndsWith(digest, StringComparison.Ordinal)
                : attempts.Any(a => a.LeaseId == lease && a.ResultDigest?.EndsWith(digest, StringComparison.Ordinal) == true);
            Assert.True(recorded, $"lease {lease}: result {digest} was acknowledged to its agent but is not in the manifest");
        }

        Assert.All(after.Rounds, r => Assert.Equal(r.Attempts.Count, r.Attempts.Select(a => (a.Shard, a.LeaseEpoch)).Distinct().Count()));
        farm.AssertAgentsAlive();
    }

    /// <summary>Redis, two coordinators (the first leads once it serves), two agents given both addresses, and a dataset.</summary>
    private sealed class TwoCoordinatorFarm : IAsyncDisposable
    {
        private readonly List<AgentProcess> _agents = [];
        private readonly List<GrpcChannel> _channels = [];
        private string _root = "";

        public RedisServer Redis { get; private set; } = null!;
        public CoordinatorProcess Leader { get; private set; } = null!;
        public CoordinatorProcess Standby { get; private set; } = null!;
        public string Data => Path.Combine(_root, "data");

        public static async Task<TwoCoordinatorFarm> StartAsync(string name)
        {
            var farm = new TwoCoordinatorFarm { _root = Directory.CreateTempSubdirectory($"rmtc-standby-{name}-").FullName };
            try
            {
                farm.Redis = await RedisServer.StartAsync();
                RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", farm.Data, 320, seed: 5);
                var shared = Path.Combine(farm._root, "farm");
                farm.Leader = await CoordinatorPair.StartAsync(shared, farm.Redis.Endpoint, CoordinatorProcess.FreePort());
                await farm.WaitServingAsync(farm.Leader, TimeSpan.FromSeconds(30));
                farm.Standby = await CoordinatorPair.StartAsync(shared, farm.Redis.Endpoint, CoordinatorProcess.FreePort());
                for (var i = 1; i <= 2; i++)
                {
                    farm._agents.Add(AgentProcess.Start($"{farm.Leader.Address},{farm.Standby.Address}", $"standby-agent-{i}", Path.Combine(farm._root, "agents", $"a{i}"), AgentProcess.OneSlot));
                }

                return farm;
            }
            catch
            {
                await farm.DisposeAsync();
                throw;
            }
        }

        /// <summary>The coordinator's <c>rmtc_coordinator_leader</c> and <c>rmtc_coordinator_takeovers_total</c>, scraped from its /metrics.</summary>
        public async Task<(int Leader, int Takeovers)> LeadershipMetricsAsync(CoordinatorProcess coordinator)
        {
            var address = System.Text.RegularExpressions.Regex.Match(coordinator.Output, @"metrics: (http://\S+/metrics)").Groups[1].Value;
            using var http = new HttpClient();
            var text = await http.GetStringAsync(address);
            int Read(string name) => (int)double.Parse(
                System.Text.RegularExpressions.Regex.Match(text, $@"^{name}(\{{[^}}]*\}})? (\S+)", System.Text.RegularExpressions.RegexOptions.Multiline) is { Success: true } m
                    ? m.Groups[2].Value
                    : throw new InvalidOperationException($"{name} is not in {address}:\n{text}"),
                System.Globalization.CultureInfo.InvariantCulture);
            return (Read("rmtc_coordinator_leader"), Read("rmtc_coordinator_takeovers_total"));
        }

        /// <summary>GETs <c>/explorer/PATH</c> on the coordinator's metrics port (where its Explorer is).</summary>
        public async Task<(System.Net.HttpStatusCode Status, string Body)> ExplorerAsync(CoordinatorProcess coordinator, string path)
        {
            var metrics = System.Text.RegularExpressions.Regex.Match(coordinator.Output, @"metrics: (http://\S+)/metrics").Groups[1].Value;
            using var http = new HttpClient();
            using var response = await http.GetAsync($"{metrics}/explorer/{path}");
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        public JobService.JobServiceClient Jobs(CoordinatorProcess coordinator)
        {
            var channel = GrpcChannel.ForAddress(coordinator.Address);
            _channels.Add(channel);
            return new JobService.JobServiceClient(channel);
        }

        /// <summary>Submits a 4-shard run of <paramref name="rounds"/> rounds to the leader and waits until the store holds some, not all, of round 1's results.</summary>
        public async Task<(string Job, List<int> DoneBefore, RunManifest Before)> SubmitAndWaitMidRoundAsync(int rounds = 2)
        {
            var job = (await Jobs(Leader).SubmitJobAsync(new SubmitJobRequest
            {
                SpecYaml = $"name: standby\nrecipe: classifier\ndataset: {Data}\nshards: 4\nrounds: {rounds}\nlocal: {{ epochs: 30, batch_size: 4 }}\n",
                SourceName = "standby.yaml",
            })).Job.Id;
            await FarmFixture.WaitUntilAsync(() =>
            {
                var stored = CoordinatorCrashTests.TryReadManifest("", job, Redis.Endpoint);
                var done = stored?.Rounds.Count == 1 ? stored.Rounds[0].Shards.Count(s => s.ResultDigest is not null) : 0;
                return done is >= 1 and < 4;
            }, TimeSpan.FromSeconds(120), () => "round 1 never got half-way:\n" + Leader.Output);
            var before = CoordinatorCrashTests.TryReadManifest("", job, Redis.Endpoint)!;
            return (job, before.Rounds[0].Shards.Where(s => s.ResultDigest is not null).Select(s => s.Shard).ToList(), before);
        }

        /// <summary>Shard results the store holds for <paramref name="job"/>, over all rounds (0 while none can be read).</summary>
        public int StoredResults(string job) =>
            CoordinatorCrashTests.TryReadManifest("", job, Redis.Endpoint)?.Rounds.Sum(r => r.Shards.Count(s => s.ResultDigest is not null)) ?? 0;

        /// <summary>Every (lease, result digest) an agent logged as acknowledged.</summary>
        public List<(string Lease, string Digest)> Acknowledged() => Failover.SentinelFailoverTests.Acknowledged(_agents);

        /// <summary>
        /// SIGKILLs the leader, waits until the standby holds the lease and serves, then starts the dead one again on
        /// its port, as systemd would, where it stands by: the two swap roles. Returns when the lease was taken and
        /// when the new leader served, from the kill.
        /// </summary>
        public async Task<(TimeSpan Took, TimeSpan Serving)> FailOverAsync()
        {
            var (dead, next) = (Leader, Standby);
            var killed = Stopwatch.StartNew();
            dead.Kill();
            await WaitForLeaseHolderAsync(next.Address, TimeSpan.FromSeconds(10));
            var took = killed.Elapsed;
            await WaitServingAsync(next, TimeSpan.FromSeconds(30));
            var serving = killed.Elapsed;
            dead.Dispose();
            Standby = await CoordinatorPair.StartAsync(Path.Combine(_root, "farm"), Redis.Endpoint, new Uri(dead.Address).Port);
            Leader = next;
            return (took, serving);
        }

        public async Task<LeaseHolderView?> LeaseHolderAsync()
        {
            using var mux = await Redis.ConnectAsync();
            var value = (string?)await mux.GetDatabase().StringGetAsync("rmtc:leader");
            return value is null ? null : new LeaseHolderView(value[(value.IndexOf('|', StringComparison.Ordinal) + 1)..]);
        }

        public async Task WaitForLeaseHolderAsync(string address, TimeSpan timeout)
        {
            using var mux = await Redis.ConnectAsync();
            var db = mux.GetDatabase();
            await FarmFixture.WaitUntilAsync(() => ((string?)db.StringGet("rmtc:leader"))?.EndsWith("|" + address, StringComparison.Ordinal) == true,
                timeout, () => $"{address} never took the leader lease:\n{Standby.Output}");
        }

        /// <summary>Waits until <paramref name="coordinator"/> answers calls instead of refusing them as a standby.</summary>
        public async Task WaitServingAsync(CoordinatorProcess coordinator, TimeSpan timeout)
        {
            var jobs = Jobs(coordinator);
            await FarmFixture.WaitUntilAsync(() =>
            {
                try
                {
                    jobs.ListJobs(new ListJobsRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
                    return true;
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
                {
                    return false;
                }
            }, timeout, () => $"{coordinator.Address} never served:\n{coordinator.Output}");
        }

        public async Task<RunManifest> WaitFinishedAsync(CoordinatorProcess coordinator, string job)
        {
            var jobs = Jobs(coordinator);
            await FarmFixture.WaitUntilAsync(() => jobs.GetJob(new GetJobRequest { JobId = job }).State is JobState.Succeeded or JobState.Failed,
                TimeSpan.FromMinutes(4), () => "the run did not finish after the takeover:\n" + coordinator.Output + string.Join("\n", _agents.Select(a => a.Output)));
            var after = RunManifest.FromJson((await jobs.GetManifestAsync(new GetJobRequest { JobId = job })).Json);
            Assert.True(after.State == RunStates.Succeeded, after.Error + "\n" + coordinator.Output);
            return after;
        }

        /// <summary>Results stored before the takeover are neither run again nor changed.</summary>
        public void AssertNothingRedone(RunManifest before, List<int> doneBefore, RunManifest after)
        {
            Assert.NotEmpty(doneBefore);
            foreach (var shard in doneBefore)
            {
                Assert.Single(after.Rounds[0].Attempts, x => x.Shard == shard && x.Outcome == AttemptOutcomes.Succeeded);
                Assert.Equal(before.Rounds[0].Shards[shard].ResultDigest, after.Rounds[0].Shards[shard].ResultDigest);
            }
        }

        public void AssertAgentsAlive() => Assert.All(_agents, x => Assert.False(x.Process.HasExited, x.Output));

        public async ValueTask DisposeAsync()
        {
            foreach (var c in _channels)
            {
                c.Dispose();
            }

            foreach (var x in _agents)
            {
                x.Dispose();
            }

            Leader?.Dispose();
            Standby?.Dispose();
            Redis?.Dispose();
            await Task.Yield();
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private sealed record LeaseHolderView(string Address);

    private sealed class CliProcess(params string[] arguments) : RmtcProcess(arguments);
}
