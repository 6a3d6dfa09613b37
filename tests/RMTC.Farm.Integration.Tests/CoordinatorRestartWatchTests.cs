using System.Globalization;
using System.Text.Json;
using Grpc.Net.Client;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// Wranglers' views across a coordinator restart, on real processes: `rmtc status` and `rmtc watch` of a run that ended
/// before the restart answer from the stored manifest and event log, and `rmtc watch` / `rmtc submit --wait` following
/// a live run ride through a SIGKILL and restart of the coordinator to the run's real end, printing no event twice.
/// </summary>
public sealed class CoordinatorRestartWatchTests
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_run_that_ended_before_a_restart_shows_its_shards_and_replays_its_events()
    {
        using var farm = await RestartFarm.StartAsync(redis: null);
        await farm.StartAgentsAsync(2);
        var job = await farm.SubmitAsync(shards: 3, rounds: 1, epochs: 1);
        await FarmFixture.WaitUntilAsync(() => farm.Stored(job.Id)?.State == RunStates.Succeeded, TimeSpan.FromMinutes(3),
            () => "the run did not succeed:\n" + farm.Logs());

        // What a watcher saw of the run while the coordinator that ran it was up.
        var (liveExit, liveOutput) = await RmtcCli.RunAsync(CliTimeout, "watch", job.Id, "--json", "--coordinator", farm.Address);
        Assert.True(liveExit == 0, liveOutput);

        farm.Coordinator.Kill();
        await farm.RestartCoordinatorAsync();

        var (statusExit, status) = await RmtcCli.RunAsync(CliTimeout, "status", job.Id, "--coordinator", farm.Address);
        Assert.True(statusExit == 0, status);
        Assert.Contains("state     succeeded", status);
        Assert.Contains("round     1/1: 3 done, 0 running, 0 queued", status);

        var (jsonExit, json) = await RmtcCli.RunAsync(CliTimeout, "status", job.Id, "--json", "--coordinator", farm.Address);
        Assert.True(jsonExit == 0, json);
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.Equal("JOB_STATE_SUCCEEDED", doc.RootElement.GetProperty("state").GetString());
            Assert.Equal(3, doc.RootElement.GetProperty("shardsDone").GetInt32());
            Assert.Equal(0, doc.RootElement.GetProperty("shardsRunning").GetInt32());
            Assert.Equal(0, doc.RootElement.GetProperty("shardsQueued").GetInt32());
        }

        var (listExit, list) = await RmtcCli.RunAsync(CliTimeout, "status", "--coordinator", farm.Address);
        Assert.True(listExit == 0, list);
        Assert.Contains("shards 3/3 done, 0 running, 0 queued", list);

        // Replayed from the stored log, to the end, and the stream ends: the same events, seqs and hashes as live.
        var (watchExit, watched) = await RmtcCli.RunAsync(CliTimeout, "watch", job.Id, "--json", "--coordinator", farm.Address);
        Assert.True(watchExit == 0, watched + "\n" + farm.Logs());
        var live = JsonEvents(liveOutput);
        var replayed = JsonEvents(watched);
        Assert.Equal(live.Select(e => (e.Seq, e.Hash, e.Kind, e.Message)), replayed.Select(e => (e.Seq, e.Hash, e.Kind, e.Message)));
        Assert.Equal("succeeded", replayed[^1].Kind);

        var (textExit, text) = await RmtcCli.RunAsync(CliTimeout, "watch", job.Id, "--coordinator", farm.Address);
        Assert.True(textExit == 0, text);
        Assert.Contains(" submitted ", text);
        Assert.Contains(" round-merged ", text);
        Assert.EndsWith("run succeeded", text.TrimEnd());
    }

    [Fact]
    public async Task Watch_and_submit_wait_ride_through_a_coordinator_killed_and_restarted_mid_run()
    {
        using var redis = await Fixtures.RedisServer.StartAsync();
        using var farm = await RestartFarm.StartAsync(redis.Endpoint);
        await farm.StartAgentsAsync(2);
        var spec = Path.Combine(farm.Root, "job.yaml");
        // Long enough to outlast the followers' start on a loaded machine: warm trainers start a shard in milliseconds.
        await File.WriteAllTextAsync(spec, farm.Spec(shards: 4, rounds: 3, epochs: 4));

        using var submit = new CliProcess("submit", spec, "--wait", "--coordinator", farm.Address);
        await FarmFixture.WaitUntilAsync(() => submit.Output.Contains("submitted ", StringComparison.Ordinal), CliTimeout, () => "not submitted:\n" + submit.Output);
        var runId = System.Text.RegularExpressions.Regex.Match(submit.Output, @"submitted (\S+):").Groups[1].Value;
        using var watch = new CliProcess("watch", runId, "--json", "--coordinator", farm.Address);

        // Kill it once both followers have printed a merged shard, with the run still going.
        await FarmFixture.WaitUntilAsync(() => submit.Output.Contains("shard-completed") && watch.Output.Contains("shard-completed"), TimeSpan.FromMinutes(3),
            () => "no shard completed:\n" + submit.Output + watch.Output + farm.Logs());
        farm.Coordinator.Kill();
        Assert.False(farm.Stored(runId) is { } stored && RunStates.IsFinal(stored.State), "the run ended before the coordinator was killed: nothing was ridden through");
        Assert.False(submit.Process.HasExited, submit.Output);
        Assert.False(watch.Process.HasExited, watch.Output);

        // Both notice, keep trying, and follow the new coordinator on the same store once it is up.
        await FarmFixture.WaitUntilAsync(() => submit.Output.Contains("unreachable") && watch.Output.Contains("unreachable"), CliTimeout,
            () => "the followers did not notice the coordinator was gone:\n" + submit.Output + watch.Output);
        await farm.RestartCoordinatorAsync();
        var submitExit = await submit.WaitAsync(TimeSpan.FromMinutes(4));
        var watchExit = await watch.WaitAsync(TimeSpan.FromMinutes(1));

        var job = await farm.Jobs.GetJobAsync(new GetJobRequest { JobId = runId });
        Assert.True(job.State == JobState.Succeeded, job.Error + "\n" + farm.Logs());
        Assert.True(submitExit == 0, submit.Output);
        Assert.True(watchExit == 0, watch.Output);
        Assert.Contains("answers again", submit.Output);
        Assert.DoesNotContain("no coordinator answers", submit.Output + watch.Output);

        // The coordinator's whole history of the run, as a fresh watcher gets it now.
        var (historyExit, historyOutput) = await RmtcCli.RunAsync(CliTimeout, "watch", runId, "--json", "--coordinator", farm.Address);
        Assert.True(historyExit == 0, historyOutput);
        var history = JsonEvents(historyOutput);
        Assert.Contains(history, e => e.Kind == "recovered");

        // --json follower: every event of the history printed, none twice, ending with the outcome.
        var followed = JsonEvents(watch.Output).Where(e => e.Hash.Length > 0).ToList();
        Assert.Equal(followed.Count, followed.Select(e => e.Hash).Distinct().Count());
        Assert.Empty(history.Select(e => e.Hash).Except(followed.Select(e => e.Hash)));
        Assert.Equal("succeeded", followed[^1].Kind);

        // Text follower: each event line once (progress lines are thinned, so they are left out of the count).
        var lines = submit.Output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Length > 10 && l[2] == ':' && l[5] == ':' && !l.Contains(" shard-progress ", StringComparison.Ordinal)).ToList();
        Assert.Equal(lines.Count, lines.Distinct().Count());
        foreach (var e in history.Where(e => e.Kind != "shard-progress"))
        {
            Assert.Contains(lines, l => l.EndsWith(e.Message, StringComparison.Ordinal) && l.Contains($" {e.Kind} ", StringComparison.Ordinal));
        }

        Assert.EndsWith("run succeeded", lines[^1]);
    }

    [Fact]
    public async Task Watch_rides_through_a_graceful_coordinator_restart_without_holding_its_shutdown()
    {
        // No agent yet: nothing but the watcher's stream is open when the coordinator stops.
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 320, seed: 5);
        var job = await farm.SubmitPreparedAsync($"name: graceful\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 1\nlocal: {{ epochs: 1, batch_size: 4 }}\n");
        using var watch = new CliProcess("watch", job.Id, "--coordinator", farm.Address);
        await FarmFixture.WaitUntilAsync(() => watch.Output.Contains(" round-started "), CliTimeout, () => "the watcher printed nothing:\n" + watch.Output);

        // A stop (systemctl restart) ends the watch stream at once rather than waiting out the host's shutdown timeout (30 s).
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await farm.RestartCoordinatorAsync(TimeSpan.FromSeconds(1));
        stopping.Stop();
        // The run outlived the stop: a write under way when it began was finished, not cancelled.
        Assert.NotNull(farm.Scheduler.GetJob(job.Id));
        await farm.StartAgentsAsync(2);
        var exit = await watch.WaitAsync(TimeSpan.FromMinutes(3));

        var final = await farm.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id });
        Assert.True(final.State == JobState.Succeeded, final.Error + "\n" + farm.AgentLogs());
        Assert.True(exit == 0, watch.Output);
        Assert.Contains("the coordinator is stopping", watch.Output);
        Assert.Contains("answers again", watch.Output);
        Assert.Single(watch.Output.Split('\n'), l => l.Contains(" round-started ", StringComparison.Ordinal));
        Assert.EndsWith("run succeeded", watch.Output.TrimEnd());
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(20), $"the restart took {stopping.Elapsed.TotalSeconds:F1} s with a watcher connected\n{watch.Output}");
    }

    [Fact]
    public async Task WatchJob_resumes_after_the_event_named_by_seq_and_hash_and_resends_all_when_it_does_not_know_it()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 320, seed: 5);
        var job = await farm.SubmitPreparedAsync($"name: resume\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 1\n");
        var history = await FirstEventsAsync(farm, new WatchJobRequest { JobId = job.Id }, 2);
        Assert.Equal([1UL, 2UL], history.Select(e => e.Seq));
        Assert.Equal(["submitted", "round-started"], history.Select(e => e.Kind));
        Assert.All(history, e => Assert.Equal(64, e.Hash.Length));

        // Known position: only what came after it.
        var resumed = await FirstEventsAsync(farm, new WatchJobRequest { JobId = job.Id, AfterSeq = 1, AfterHash = history[0].Hash }, 1);
        Assert.Equal(history[1].Hash, resumed[0].Hash);

        // A position this coordinator never recorded (its predecessor lost it in a crash): everything again.
        var unknown = await FirstEventsAsync(farm, new WatchJobRequest { JobId = job.Id, AfterSeq = 2, AfterHash = new string('f', 64) }, 1);
        Assert.Equal(history[0].Hash, unknown[0].Hash);
    }

    [Fact]
    public async Task Watch_of_an_address_where_no_coordinator_ever_answered_fails_at_once()
    {
        // Reconnecting is for a coordinator that went away, not for a wrong address.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (exit, output) = await RmtcCli.RunAsync(CliTimeout, "watch", "some-run", "--coordinator", $"127.0.0.1:{CoordinatorProcess.FreePort()}");
        Assert.Equal(1, exit);
        Assert.Contains("no coordinator answers", output);
        Assert.DoesNotContain("retrying", output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
    }

    /// <summary>The first <paramref name="count"/> events a WatchJob call answers (the run is still live, so the stream stays open).</summary>
    private static async Task<List<JobEvent>> FirstEventsAsync(FarmFixture farm, WatchJobRequest request, int count)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = farm.Jobs.WatchJob(request, cancellationToken: cts.Token);
        var events = new List<JobEvent>();
        while (events.Count < count && await call.ResponseStream.MoveNext(cts.Token))
        {
            events.Add(call.ResponseStream.Current);
        }

        return events;
    }

    private sealed record WatchedEvent(ulong Seq, string Hash, string Kind, string Message);

    /// <summary>The events in `rmtc watch --json` output (one JSON object a line; stderr lines are not JSON).</summary>
    private static List<WatchedEvent> JsonEvents(string output) => output
        .Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
        .Where(l => l.StartsWith('{'))
        .Select(l =>
        {
            using var doc = JsonDocument.Parse(l);
            var e = doc.RootElement;
            return new WatchedEvent(
                ulong.Parse(e.GetProperty("seq").GetString()!, CultureInfo.InvariantCulture),
                e.GetProperty("hash").GetString()!,
                e.GetProperty("kind").GetString()!,
                e.GetProperty("message").GetString()!);
        })
        .ToList();

    /// <summary>A coordinator process (file store or Redis) with agent processes, restartable on the same store and port.</summary>
    private sealed class RestartFarm : IDisposable
    {
        private readonly List<AgentProcess> _agents = new();
        private readonly string? _redis;
        private readonly int _port;
        private readonly string _data;
        private GrpcChannel _channel;

        private RestartFarm(string root, string? redis, int port, CoordinatorProcess coordinator)
        {
            Root = root;
            _redis = redis;
            _port = port;
            Coordinator = coordinator;
            _channel = GrpcChannel.ForAddress(coordinator.Address);
            Jobs = new JobService.JobServiceClient(_channel);
            _data = Path.Combine(root, "data");
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", _data, 320, seed: 5);
        }

        public string Root { get; }
        public CoordinatorProcess Coordinator { get; private set; }
        public string Address => Coordinator.Address;
        public JobService.JobServiceClient Jobs { get; private set; }
        private string FarmDir => Path.Combine(Root, "farm");

        public static async Task<RestartFarm> StartAsync(string? redis)
        {
            var root = Directory.CreateTempSubdirectory("rmtc-restart-watch-").FullName;
            var port = CoordinatorProcess.FreePort();
            return new RestartFarm(root, redis, port, await CoordinatorProcess.StartAsync(Path.Combine(root, "farm"), port, redis));
        }

        public async Task StartAgentsAsync(int count)
        {
            for (var i = 1; i <= count; i++)
            {
                _agents.Add(AgentProcess.Start(Address, $"restart-agent-{i}", Path.Combine(Root, "agents", $"a{i}")));
            }

            await FarmFixture.WaitUntilAsync(() => _agents.All(a => Coordinator.Output.Contains($"Agent {a.Id} connected", StringComparison.Ordinal)) || _agents.Any(a => a.Process.HasExited),
                TimeSpan.FromSeconds(60), () => "agents did not register:\n" + Logs());
        }

        public string Spec(int shards, int rounds, int epochs) => string.Create(CultureInfo.InvariantCulture,
            $"name: restart-watch\nrecipe: classifier\ndataset: {_data}\nshards: {shards}\nrounds: {rounds}\nlocal: {{ epochs: {epochs}, batch_size: 4 }}\n");

        public async Task<Job> SubmitAsync(int shards, int rounds, int epochs) =>
            (await Jobs.SubmitJobAsync(new SubmitJobRequest { SpecYaml = Spec(shards, rounds, epochs), SourceName = "restart-watch.yaml" })).Job;

        /// <summary>The run's manifest as the store holds it (null while unreadable).</summary>
        public RunManifest? Stored(string runId) => CoordinatorCrashTests.TryReadManifest(FarmDir, runId, _redis);

        /// <summary>Starts a coordinator again on the same store and port (after the old one was killed).</summary>
        public async Task RestartCoordinatorAsync()
        {
            Coordinator.Dispose();
            Coordinator = await CoordinatorProcess.StartAsync(FarmDir, _port, _redis);
            _channel.Dispose();
            _channel = GrpcChannel.ForAddress(Coordinator.Address);
            Jobs = new JobService.JobServiceClient(_channel);
        }

        public string Logs() => "--- coordinator ---\n" + Coordinator.Output + string.Concat(_agents.Select(a => $"\n--- {a.Id} ---\n{a.Output}"));

        public void Dispose()
        {
            foreach (var a in _agents)
            {
                a.Dispose();
            }

            Coordinator.Dispose();
            _channel.Dispose();
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A client command (`rmtc watch`, `rmtc submit --wait`) running alongside the test, its stdout and stderr captured.</summary>
    private sealed class CliProcess(params string[] arguments) : RmtcProcess(arguments)
    {
        /// <summary>Waits for the command to end (all its output read) and returns its exit code.</summary>
        public async Task<int> WaitAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await Process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"rmtc {string.Join(' ', arguments)} did not end in {timeout}:\n{Output}");
            }

            Process.WaitForExit();
            return Process.ExitCode;
        }
    }
}
