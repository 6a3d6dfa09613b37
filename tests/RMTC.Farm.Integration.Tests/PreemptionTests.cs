using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// Render-first preemption on real processes: an agent yields its node when a flag file appears, a probe command says a
/// render runs, or it gets SIGUSR1; the shard is handed back with a checkpoint, resumes from it (or restarts when the
/// store lost it), and the run completes with a verifiable record.
/// </summary>
public sealed class PreemptionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task A_flag_file_preempts_a_real_trainer_which_resumes_from_its_checkpoint_on_another_agent()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 200);
        var flag = Path.Combine(farm.Root, "render-A.flag");
        var renderNode = (await farm.StartAgentsAsync(1, "render", Yield("FlagFile", flag)))[0];
        var job = await farm.SubmitAsync($$"""
            name: preempt
            recipe: classifier
            dataset: {{data}}
            shards: 1
            rounds: 2
            local: { epochs: 40, batch_size: 4 }
            """);
        using var events = Watch(farm, job.Id);

        await events.WaitForAsync(e => e.Kind == "shard-progress" && e.Message.Contains("samples", StringComparison.Ordinal), TimeSpan.FromMinutes(1), farm);
        await File.WriteAllTextAsync(flag, "frame 1001 of lighting_v3");
        var clock = Stopwatch.StartNew();
        var preempted = await events.WaitForAsync(e => e.Kind == "shard-preempted", TimeSpan.FromMinutes(1), farm);
        var yieldLatency = clock.Elapsed;
        Assert.Equal(renderNode.Id, preempted.AgentId);
        Assert.Contains("flag file", preempted.Message);
        Assert.Contains("checkpoint", preempted.Message);

        // Another node takes the shard and resumes it; the render node, still yielding, gets nothing (round 2 included).
        var other = (await farm.StartAgentsAsync(1, "free"))[0];
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");

        var manifest = farm.Scheduler.GetManifest(job.Id)!;
        var round1 = manifest.Rounds[0].Attempts;
        var first = round1[0];
        Assert.Equal(AttemptOutcomes.Preempted, first.Outcome);
        Assert.Equal(renderNode.Id, first.AgentId);
        Assert.NotNull(first.CheckpointDigest);
        Assert.Matches("epoch [0-9]+, batch [0-9]+, [0-9]+/8000 samples", first.Progress);
        var resumed = round1[^1];
        Assert.Equal(other.Id, resumed.AgentId);
        Assert.Equal(first.CheckpointDigest, resumed.ResumedFrom);
        Assert.Equal(AttemptOutcomes.Succeeded, resumed.Outcome);
        Assert.All(manifest.Rounds[1].Attempts, a => Assert.Equal(other.Id, a.AgentId));
        Assert.Contains($"resuming from checkpoint {first.CheckpointDigest}", other.Output);
        Assert.Contains("yielded to rendering", renderNode.Output);

        // The checkpoint is in the store, the record is intact, and the preemption is in its hash chain.
        Assert.True(farm.Artifacts.Exists(first.CheckpointDigest!));
        output.WriteLine($"flag file -> shard-preempted recorded: {yieldLatency.TotalMilliseconds:F0} ms (poll 100 ms, stop before the next batch, "
            + $"checkpoint {farm.Artifacts.SizeOf(first.CheckpointDigest!)} bytes written and uploaded); preempted at {first.Progress}; "
            + $"resumed attempt on {resumed.AgentId}: {(resumed.EndedAt!.Value - resumed.StartedAt).TotalSeconds:F1} s");
        var lineage = new LineageService.LineageServiceClient(farm.Channel);
        var verified = await lineage.VerifyAsync(new LineageRunRequest { RunId = job.Id });
        Assert.True(verified.Ok, string.Join("; ", verified.Problems));
        Assert.Contains(await ChainAsync(farm, job.Id), e => e.Kind == "shard-preempted"
            && e.Data["checkpoint"]?.GetValue<string>() == first.CheckpointDigest && e.Data["progress"]?["samplesSeen"]?.GetValue<ulong>() > 0);

        // Removing the flag frees the node.
        Assert.True(farm.Scheduler.View.Yielding.ContainsKey(renderNode.Id));
        File.Delete(flag);
        await FarmFixture.WaitUntilAsync(() => !farm.Scheduler.View.Yielding.ContainsKey(renderNode.Id), TimeSpan.FromSeconds(20), () => renderNode.Output);
    }

    [Fact]
    public async Task A_probe_command_saying_a_render_runs_hands_the_shard_back_and_no_shard_comes_until_it_stops()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 40);
        var rendering = Path.Combine(farm.Root, "frame-running");
        var agent = (await farm.StartAgentsAsync(1, "probe", Simulated(4000, Yield("ProbeCommand", $"test -e '{rendering}'"))))[0];
        var job = await farm.SubmitAsync($"name: probe\nrecipe: classifier\ndataset: {data}\nshards: 1\nrounds: 1\n");
        using var events = Watch(farm, job.Id);
        await events.WaitForAsync(e => e.Kind == "shard-progress" && e.Message.Contains("simulated", StringComparison.Ordinal), TimeSpan.FromSeconds(30), farm);
        await Task.Delay(1000);

        await File.WriteAllTextAsync(rendering, "");
        var preempted = await events.WaitForAsync(e => e.Kind == "shard-preempted", TimeSpan.FromSeconds(30), farm);
        Assert.Contains("probe", preempted.Message);

        // While the probe says a render runs, the only agent gets nothing and status says why.
        await Task.Delay(1500);
        var waiting = await farm.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id });
        Assert.Equal(0u, waiting.ShardsRunning);
        Assert.Contains("rendering", waiting.WaitingReason);
        Assert.Single(farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts);

        File.Delete(rendering);
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(1));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{agent.Output}");
        var attempts = farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts;
        Assert.Equal(2, attempts.Count);
        Assert.Equal(AttemptOutcomes.Preempted, attempts[0].Outcome);
        Assert.Equal(attempts[0].CheckpointDigest, attempts[1].ResumedFrom);

        // The simulation's checkpoint is how long it had trained: the resumed attempt only waits the rest.
        using var checkpoint = JsonDocument.Parse(farm.Artifacts.ReadAllBytes(attempts[0].CheckpointDigest!));
        var trainedMs = checkpoint.RootElement.GetProperty("trainedMs").GetDouble();
        Assert.InRange(trainedMs, 500, 4000);
        Assert.True(attempts[1].EndedAt!.Value - attempts[1].StartedAt < TimeSpan.FromMilliseconds(4000 - trainedMs + 3000),
            $"the resumed attempt took {attempts[1].EndedAt - attempts[1].StartedAt} after {trainedMs} ms were done");
    }

    [Fact]
    public async Task SIGUSR1_yields_the_node_until_SIGUSR2()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 40);
        var agent = (await farm.StartAgentsAsync(1, "sig", Simulated(4000, [])))[0];
        var job = await farm.SubmitAsync($"name: sig\nrecipe: classifier\ndataset: {data}\nshards: 1\nrounds: 1\n");
        using var events = Watch(farm, job.Id);
        await events.WaitForAsync(e => e.Kind == "shard-progress" && e.Message.Contains("simulated", StringComparison.Ordinal), TimeSpan.FromSeconds(30), farm);

        await SignalAsync(agent.Process.Id, "USR1");
        var preempted = await events.WaitForAsync(e => e.Kind == "shard-preempted", TimeSpan.FromSeconds(30), farm);
        Assert.Contains("SIGUSR1", preempted.Message);
        await FarmFixture.WaitUntilAsync(() => farm.Scheduler.View.Yielding.ContainsKey(agent.Id), TimeSpan.FromSeconds(10), () => agent.Output);
        Assert.False(agent.Process.HasExited);

        await SignalAsync(agent.Process.Id, "USR2");
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(1));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{agent.Output}");
        var attempts = farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts;
        Assert.Equal(attempts[0].CheckpointDigest, attempts[1].ResumedFrom);
        Assert.Contains("SIGUSR1 received", agent.Output);
    }

    [Fact]
    public async Task A_checkpoint_gone_from_the_store_makes_the_shard_restart_and_the_record_says_so()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 40);
        var flag = Path.Combine(farm.Root, "yield.flag");
        var agent = (await farm.StartAgentsAsync(1, "lost", Simulated(3000, Yield("FlagFile", flag))))[0];
        var job = await farm.SubmitAsync($"name: lost\nrecipe: classifier\ndataset: {data}\nshards: 1\nrounds: 1\n");
        using var events = Watch(farm, job.Id);
        await events.WaitForAsync(e => e.Kind == "shard-progress" && e.Message.Contains("simulated", StringComparison.Ordinal), TimeSpan.FromSeconds(30), farm);
        await Task.Delay(500);
        await File.WriteAllTextAsync(flag, "");
        await events.WaitForAsync(e => e.Kind == "shard-preempted", TimeSpan.FromSeconds(30), farm);

        var checkpoint = farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts[0].CheckpointDigest!;
        File.Delete(Path.Combine(StoredArtifacts.FileStoreDirectory(farm.DataDirectory), checkpoint + ".safetensors"));
        File.Delete(flag);

        var missing = await events.WaitForAsync(e => e.Kind == "checkpoint-missing", TimeSpan.FromSeconds(30), farm);
        Assert.Contains("restarts", missing.Message);
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(1));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{agent.Output}");
        var attempts = farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts;
        Assert.Equal(AttemptOutcomes.Preempted, attempts[0].Outcome);
        Assert.Null(attempts[1].ResumedFrom);
        Assert.Equal(AttemptOutcomes.Succeeded, attempts[1].Outcome);
        Assert.Contains(await ChainAsync(farm, job.Id), e => e.Kind == "checkpoint-missing" && e.Data["checkpoint"]?.GetValue<string>() == checkpoint);
    }

    [Fact]
    public async Task The_wire_fences_checkpoints_by_epoch_counts_no_failure_and_resumes_the_next_lease()
    {
        // This hand-driven agent heartbeats only when the test says so: a long lease timeout keeps a loaded machine's
        // pauses between steps from expiring its lease.
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 60_000, heartbeatMs: 100);
        var data = farm.Synthesize("classifier", 40);
        var agents = new AgentService.AgentServiceClient(farm.Channel);
        var job = await farm.SubmitPreparedAsync($"name: wire\nrecipe: classifier\ndataset: {data}\nshards: 1\nrounds: 1\nmax_retries: 0\n");
        var registration = await agents.RegisterAsync(new RegisterRequest { AgentId = "wire", Hostname = "test", Slots = 1, Capacity = new Resources { Cores = 1, MemoryMib = 1024 } });
        using var session = agents.Session();
        await session.RequestStream.WriteAsync(new AgentMessage { Hello = new Hello { AgentId = "wire", SessionToken = registration.SessionToken } });
        var lease = await NextAssignmentAsync(session);
        Assert.Empty(lease.ResumeCheckpointDigest);

        var bytes = "checkpoint bytes of epoch 1, batch 3"u8.ToArray();
        var stale = await Assert.ThrowsAsync<RpcException>(() => UploadCheckpointAsync(agents, lease, lease.LeaseEpoch + 1, bytes));
        Assert.Equal(StatusCode.FailedPrecondition, stale.StatusCode);
        Assert.Contains("stale", stale.Status.Detail);
        Assert.False(farm.Artifacts.Exists(Sha256Digest.OfBytes(bytes)));

        var stored = await UploadCheckpointAsync(agents, lease, lease.LeaseEpoch, bytes);
        Assert.Equal(Sha256Digest.OfBytes(bytes), stored.Digest);
        await session.RequestStream.WriteAsync(new AgentMessage { Heartbeat = new Heartbeat { Yielding = true, YieldReason = "test render" } });
        await session.RequestStream.WriteAsync(new AgentMessage
        {
            Yielded = new ShardYielded { LeaseId = lease.LeaseId, LeaseEpoch = lease.LeaseEpoch, Reason = "test render", CheckpointDigest = stored.Digest, TrainingEpoch = 1, BatchesDone = 3, SamplesSeen = 12, SamplesTotal = 40 },
        });
        await FarmFixture.WaitUntilAsync(() => farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts[0].Outcome == AttemptOutcomes.Preempted, TimeSpan.FromSeconds(10), () => "not preempted");

        // Not a failure: with max_retries 0 a failure would have failed the run. The yielding agent gets nothing...
        await Task.Delay(500);
        var job1 = await farm.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id });
        Assert.Equal(JobState.Running, job1.State);
        Assert.Equal(1u, job1.ShardsQueued);

        // ... until its heartbeat says it is free: then the lease resumes from the checkpoint, with a higher epoch.
        await session.RequestStream.WriteAsync(new AgentMessage { Heartbeat = new Heartbeat() });
        var again = await NextAssignmentAsync(session);
        Assert.Equal(stored.Digest, again.ResumeCheckpointDigest);
        Assert.True(again.LeaseEpoch > lease.LeaseEpoch);
        Assert.Equal(lease.GlobalWeightsDigest, again.GlobalWeightsDigest);
        var attempts = farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts;
        Assert.Equal("epoch 1, batch 3, 12/40 samples", attempts[0].Progress);
        Assert.Equal(stored.Digest, attempts[1].ResumedFrom);

        // A yield naming the old epoch changes nothing.
        await session.RequestStream.WriteAsync(new AgentMessage { Yielded = new ShardYielded { LeaseId = lease.LeaseId, LeaseEpoch = lease.LeaseEpoch, Reason = "late" } });
        await Task.Delay(300);
        Assert.Equal(AttemptOutcomes.Running, farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts[1].Outcome);

        // Handed back again before it stored a checkpoint of its own: the earlier checkpoint still holds, and is resumed.
        await session.RequestStream.WriteAsync(new AgentMessage { Yielded = new ShardYielded { LeaseId = again.LeaseId, LeaseEpoch = again.LeaseEpoch, Reason = "another frame" } });
        var third = await NextAssignmentAsync(session);
        Assert.Equal(stored.Digest, third.ResumeCheckpointDigest);
        await session.RequestStream.CompleteAsync();

        // Each handing back counts as a preemption, on the coordinator's Prometheus port.
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(farm.App.MetricsAddress()!);
        Assert.Matches(@"rmtc_shards_preempted_total\{[^}]*agent=""wire""[^}]*\} 2", metrics);
        Assert.Matches(@"rmtc_shards_failed_total\S* 0", metrics);
    }

    [Fact]
    public async Task A_coordinator_restarted_after_a_preemption_still_resumes_the_shard_from_its_checkpoint()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 5000, heartbeatMs: 100);
        var data = farm.Synthesize("classifier", 40);
        var job = await farm.SubmitPreparedAsync($"name: restart\nrecipe: classifier\ndataset: {data}\nshards: 1\nrounds: 1\n");
        var bytes = "checkpoint before the restart"u8.ToArray();
        string digest;
        {
            var agents = new AgentService.AgentServiceClient(farm.Channel);
            var registration = await agents.RegisterAsync(new RegisterRequest { AgentId = "wire", Hostname = "test", Slots = 1, Capacity = new Resources { Cores = 1, MemoryMib = 1024 } });
            using var session = agents.Session();
            await session.RequestStream.WriteAsync(new AgentMessage { Hello = new Hello { AgentId = "wire", SessionToken = registration.SessionToken } });
            var lease = await NextAssignmentAsync(session);
            digest = (await UploadCheckpointAsync(agents, lease, lease.LeaseEpoch, bytes)).Digest;
            await session.RequestStream.WriteAsync(new AgentMessage { Heartbeat = new Heartbeat { Yielding = true, YieldReason = "render" } });
            await session.RequestStream.WriteAsync(new AgentMessage { Yielded = new ShardYielded { LeaseId = lease.LeaseId, LeaseEpoch = lease.LeaseEpoch, Reason = "render", CheckpointDigest = digest } });
            await FarmFixture.WaitUntilAsync(() => farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts[0].Outcome == AttemptOutcomes.Preempted, TimeSpan.FromSeconds(10), () => "not preempted");
            await farm.Scheduler.FlushAsync();
            await session.RequestStream.CompleteAsync();
        }

        await farm.RestartCoordinatorAsync(TimeSpan.FromMilliseconds(200));
        var again = new AgentService.AgentServiceClient(farm.Channel);
        var second = await again.RegisterAsync(new RegisterRequest { AgentId = "after", Hostname = "test", Slots = 1, Capacity = new Resources { Cores = 1, MemoryMib = 1024 } });
        using var next = again.Session();
        await next.RequestStream.WriteAsync(new AgentMessage { Hello = new Hello { AgentId = "after", SessionToken = second.SessionToken } });
        await next.RequestStream.WriteAsync(new AgentMessage { Heartbeat = new Heartbeat() });
        var resumed = await NextAssignmentAsync(next);
        Assert.Equal(digest, resumed.ResumeCheckpointDigest);
        await next.RequestStream.CompleteAsync();
    }

    [Fact]
    public async Task Agent_help_documents_the_yield_sources_and_signals()
    {
        var (code, help) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "agent", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--yield-flag", help);
        Assert.Contains("--yield-probe", help);
        Assert.Contains("--yield-poll", help);
        Assert.Contains("SIGUSR1", help);
        Assert.Contains("SIGUSR2", help);
    }

    private static async Task<Assignment> NextAssignmentAsync(AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage> session)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (await session.ResponseStream.MoveNext(timeout.Token))
        {
            if (session.ResponseStream.Current.KindCase == CoordinatorMessage.KindOneofCase.Assign)
            {
                return session.ResponseStream.Current.Assign;
            }
        }

        throw new InvalidOperationException("the session ended without an assignment");
    }

    private static async Task<UploadResultResponse> UploadCheckpointAsync(AgentService.AgentServiceClient agents, Assignment lease, ulong epoch, byte[] bytes)
    {
        using var call = agents.UploadResult();
        await call.RequestStream.WriteAsync(new UploadResultRequest
        {
            Header = new UploadHeader { LeaseId = lease.LeaseId, LeaseEpoch = epoch, AgentId = "wire", Digest = Sha256Digest.OfBytes(bytes), TotalBytes = (ulong)bytes.Length, Checkpoint = true },
        });
        try
        {
            await call.RequestStream.WriteAsync(new UploadResultRequest { Chunk = ByteString.CopyFrom(bytes) });
            await call.RequestStream.CompleteAsync();
        }
        catch (InvalidOperationException)
        {
            // Answered early (refusal): the status is in the response.
        }

        return await call.ResponseAsync;
    }

    internal static Dictionary<string, string> Yield(string key, string value) => new() { [$"RMTC_Agent__Yield__{key}"] = value, ["RMTC_Agent__Yield__PollIntervalMs"] = "100" };

    private static Dictionary<string, string> Simulated(int ms, Dictionary<string, string> environment)
    {
        environment["RMTC_Agent__SimulateTrainingMs"] = ms.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return environment;
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>The run's hash-chained events as the store keeps them.</summary>
    private static async Task<IReadOnlyList<LineageEvent>> ChainAsync(FarmFixture farm, string runId)
    {
        await farm.Scheduler.FlushAsync();
        var path = Path.Combine(farm.Root, "farm", "runs", runId, "events.jsonl");
        return (await File.ReadAllLinesAsync(path)).Where(l => l.Length > 0).Select(LineageEvent.FromJson).ToList();
    }

    internal static EventWatch Watch(FarmFixture farm, string jobId) => new(farm, jobId);

    /// <summary>Follows a job's events in the background so a test can wait for one.</summary>
    internal sealed class EventWatch : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly List<JobEvent> _seen = new();
        private readonly Task _reader;

        public EventWatch(FarmFixture farm, string jobId)
        {
            var call = farm.Jobs.WatchJob(new WatchJobRequest { JobId = jobId }, cancellationToken: _stop.Token);
            _reader = Task.Run(async () =>
            {
                using (call)
                {
                    try
                    {
                        while (await call.ResponseStream.MoveNext(_stop.Token))
                        {
                            lock (_seen)
                            {
                                _seen.Add(call.ResponseStream.Current);
                            }
                        }
                    }
                    catch (RpcException)
                    {
                    }
                }
            });
        }

        public async Task<JobEvent> WaitForAsync(Func<JobEvent, bool> match, TimeSpan timeout, FarmFixture farm)
        {
            JobEvent? found = null;
            await FarmFixture.WaitUntilAsync(() =>
            {
                lock (_seen)
                {
                    found = _seen.FirstOrDefault(match);
                }

                return found is not null;
            }, timeout, () =>
            {
                lock (_seen)
                {
                    return "no such event; seen: " + string.Join(" | ", _seen.Select(e => $"{e.Kind}: {e.Message}")) + "\n" + farm.AgentLogs();
                }
            });
            return found!;
        }

        public void Dispose()
        {
            _stop.Cancel();
            try
            {
                _reader.Wait(5000);
            }
            catch (AggregateException)
            {
            }

            _stop.Dispose();
        }
    }
}
