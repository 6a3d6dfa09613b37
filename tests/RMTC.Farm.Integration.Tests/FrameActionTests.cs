using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// Wranglers' frame actions and job controls as transitions of the scheduler, driven directly with a fake clock and real
/// weight files: retry (a merged result taken back out of the round's sum), kill, eat under a quorum policy, priority,
/// max retries and comments, each checked in the manifest.
/// </summary>
public sealed class FrameActionTests : IAsyncLifetime
{
    private static readonly ActionOrigin Alice = new("alice", "OpenCue from 127.0.0.1", "bad node");

    private readonly SchedulerHarness _farm = new("rmtc-actions-", "2026-12-07T10:00:00Z", leaseTimeoutMs: 3_600_000);

    private ChannelReader<AgentCommand> Agent(string id, int slots = 1)
    {
        var registration = _farm.Scheduler.Register(SchedulerInputs.Registration(id, slots, memoryMib: 8192, cores: 4));
        return _farm.Scheduler.Connect(id, registration.SessionToken);
    }

    private RunStatus Submit(int shards, string extra = "") => _farm.Scheduler.SubmitPrepared(new JobSubmission
    {
        SpecYaml = $"name: actions\nrecipe: classifier\ndataset: {_farm.Data}\nshards: {shards}\nrounds: 1\n{extra}",
        SourceName = "actions.yaml",
    });

    private static WorkOrder Assigned(ChannelReader<AgentCommand> inbox) => SchedulerHarness.Assigned(inbox);

    private Task<UploadDecision> Deliver(string agent, WorkOrder lease, float shift) => _farm.DeliverAsync(agent, lease, shift, samples: 15);

    private float FirstValue(string digest) => _farm.Artifacts.ReadWeights(digest).Tensors.First(t => t.DType == TensorDType.F32).AsFloat32()[0];

    private Task<RunActionResult> Act(string runId, ShardAction action, bool strict, params int[] shards) =>
        _farm.Scheduler.ActOnShardsAsync(runId, action, shards, Alice, strict);

    [Fact]
    public async Task A_kill_stops_the_running_attempt_records_who_killed_it_and_queues_the_shard_again_without_counting_a_failure()
    {
        var a = Agent("a");
        var job = Submit(1, "max_retries: 0");
        var first = Assigned(a);

        var result = await Act(job.Id, ShardAction.Kill, strict: true, first.Shard);
        Assert.Equal(RunActionVerdict.Done, result.Verdict);
        Assert.True(a.TryRead(out var stop));
        Assert.Equal(first.LeaseId, stop.Cancel.LeaseId);
        Assert.Contains("killed by alice (OpenCue from 127.0.0.1): bad node", stop.Cancel.Reason);

        // The freed agent takes the shard again; the killed attempt's late result is refused as stale.
        var second = Assigned(a);
        Assert.Equal((first.Shard, 2), (second.Shard, second.Attempt));
        Assert.Equal(UploadVerdict.Stale, (await Deliver("a", first, 0.1f)).Verdict);
        Assert.Equal(UploadVerdict.Accept, (await Deliver("a", second, 0.2f)).Verdict);

        await _farm.Scheduler.FlushAsync();
        var manifest = _farm.Scheduler.GetManifest(job.Id)!;
        // max_retries 0: a kill is no failure, so the run still succeeded.
        Assert.Equal(RunStates.Succeeded, manifest.State);
        var killed = manifest.Rounds[0].Attempts.Single(x => x.LeaseId == first.LeaseId);
        Assert.Equal((AttemptOutcomes.Killed, "alice"), (killed.Outcome, killed.StoppedBy));
        Assert.Contains("bad node", killed.Error);
    }

    [Fact]
    public async Task A_retry_of_a_merged_shard_takes_its_result_out_of_the_round_and_the_merge_averages_the_new_one()
    {
        var a = Agent("a");
        var b = Agent("b");
        var job = Submit(2);
        var la = Assigned(a);
        var lb = Assigned(b);
        var input = FirstValue(la.GlobalWeightsDigest);
        Assert.Equal(UploadVerdict.Accept, (await Deliver("b", lb, 0.1f)).Verdict);

        Assert.Equal(RunActionVerdict.Done, (await Act(job.Id, ShardAction.Retry, strict: true, lb.Shard)).Verdict);
        Assert.Equal(ShardStatus.Running, _farm.Scheduler.View.Find(job.Id)!.Shards[lb.Shard].Status);
        var again = Assigned(b);
        Assert.Equal((lb.Shard, 2), (again.Shard, again.Attempt));
        var open = _farm.Scheduler.GetManifest(job.Id)!.Rounds[0];
        Assert.Empty(open.MergedResults);
        Assert.Null(open.Shards[lb.Shard].ResultDigest);

        Assert.Equal(UploadVerdict.Accept, (await Deliver("a", la, 0.3f)).Verdict);
        Assert.Equal(UploadVerdict.Accept, (await Deliver("b", again, 0.5f)).Verdict);
        await _farm.Scheduler.FlushAsync();
        var manifest = _farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(RunStates.Succeeded, manifest.State);
        var round = manifest.Rounds[0];
        Assert.Equal(2, round.MergedResults.Count);
        var retried = round.Attempts.Single(x => x.LeaseId == lb.LeaseId);
        Assert.Equal((AttemptOutcomes.Retried, "alice"), (retried.Outcome, retried.StoppedBy));
        Assert.DoesNotContain(retried.ResultDigest, round.MergedResults);
        // Equal shards: the merge is the mean of +0.3 and +0.5; the discarded +0.1 is not in it.
        Assert.Equal(input + 0.4f, FirstValue(round.OutputDigest!), 4);
    }

    [Fact]
    public async Task Retries_and_kills_that_do_not_fit_the_frame_are_refused_naming_why_and_change_nothing()
    {
        var a = Agent("a");
        var job = Submit(2);
        var running = Assigned(a);
        var waiting = 1 - running.Shard;

        var retryWaiting = await Act(job.Id, ShardAction.Retry, strict: true, waiting);
        Assert.Equal(RunActionVerdict.Refused, retryWaiting.Verdict);
        Assert.Equal($"nothing to retry: shard {waiting} is already waiting for an agent", retryWaiting.Reason);
        var retryRunning = await Act(job.Id, ShardAction.Retry, strict: true, running.Shard);
        Assert.Contains("is running: kill it", retryRunning.Reason);
        var killWaiting = await Act(job.Id, ShardAction.Kill, strict: true, waiting);
        Assert.Contains("is waiting: no attempt of it runs", killWaiting.Reason);
        Assert.Contains("is not in this run", (await Act(job.Id, ShardAction.Kill, strict: true, 7)).Reason);
        Assert.Equal(RunActionVerdict.NotFound, (await Act("nope", ShardAction.Kill, strict: true, 0)).Verdict);

        // A search over every frame acts on those it fits: the running one is killed, the waiting one left alone.
        var all = await Act(job.Id, ShardAction.Kill, strict: false, 0, 1);
        Assert.Equal([running.Shard], all.Shards);

        // The run is cancelled: its manifest is sealed, nothing more is done to it.
        _farm.Scheduler.Cancel(job.Id, "test");
        var ended = await Act(job.Id, ShardAction.Retry, strict: false, 0, 1);
        Assert.Equal(RunActionVerdict.Refused, ended.Verdict);
        Assert.StartsWith("the job has finished (cancelled) and its run's manifest is sealed (hash-chained and signed), so no frame of it can be retried", ended.Reason);
    }

    [Fact]
    public async Task An_eat_is_refused_where_the_round_policy_needs_every_shard()
    {
        var a = Agent("a");
        var job = Submit(2);
        var lease = Assigned(a);
        var eat = await Act(job.Id, ShardAction.Eat, strict: true, lease.Shard);
        Assert.Equal(RunActionVerdict.Refused, eat.Verdict);
        Assert.StartsWith($"FedAvg cannot close round 1 without shard {lease.Shard}: the job's round policy waits for every shard's result (round_policy close: all)", eat.Reason);
        Assert.False(a.TryRead(out _));
    }

    [Fact]
    public async Task An_eaten_shard_is_cancelled_and_recorded_with_the_rounds_quorum_and_the_round_closes_with_the_others()
    {
        var a = Agent("a");
        var b = Agent("b");
        var c = Agent("c");
        var job = Submit(3, "round_policy:\n  close: quorum\n  quorum: 2\n  deadline: 1h");
        var la = Assigned(a);
        var lb = Assigned(b);
        var lc = Assigned(c);
        Assert.Equal(UploadVerdict.Accept, (await Deliver("a", la, 0.1f)).Verdict);

        Assert.Equal(RunActionVerdict.Done, (await Act(job.Id, ShardAction.Eat, strict: true, lc.Shard)).Verdict);
        Assert.True(c.TryRead(out var stop));
        Assert.Equal(lc.LeaseId, stop.Cancel.LeaseId);
        Assert.Equal(ShardStatus.Eaten, _farm.Scheduler.View.Find(job.Id)!.Shards[lc.Shard].Status);

        // Eating b as well would leave one shard, under the quorum: refused, b keeps running.
        var more = await Act(job.Id, ShardAction.Eat, strict: true, lb.Shard);
        Assert.Equal(RunActionVerdict.Refused, more.Verdict);
        Assert.Equal($"eating shard {lb.Shard} would leave 1 of round 1's 3 shards, under the quorum of 2 results FedAvg needs to close the round (round_policy quorum): retry or kill the frame instead", more.Reason);
        Assert.Contains("was eaten from round 1", (await Act(job.Id, ShardAction.Eat, strict: true, lc.Shard)).Reason);

        // b's result is the last one the round waits for: it closes long before its deadline.
        Assert.Equal(UploadVerdict.Accept, (await Deliver("b", lb, 0.3f)).Verdict);
        await _farm.Scheduler.FlushAsync();
        var manifest = _farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(RunStates.Succeeded, manifest.State);
        var quorum = manifest.Rounds[0].Quorum!;
        Assert.Equal((2, 2), (quorum.Quorum, quorum.Merged));
        Assert.Equal([lc.Shard], quorum.UnmergedShards);
        var eaten = Assert.Single(quorum.Eaten!);
        Assert.Equal((lc.Shard, "alice", "OpenCue from 127.0.0.1"), (eaten.Shard, eaten.By, eaten.Via));
        var cancelled = manifest.Rounds[0].Attempts.Single(x => x.LeaseId == lc.LeaseId);
        Assert.Equal((AttemptOutcomes.Cancelled, "alice"), (cancelled.Outcome, cancelled.StoppedBy));
    }

    [Fact]
    public async Task An_eaten_shard_stays_eaten_across_a_coordinator_restart_and_the_round_closes_without_it_merging_each_result_once()
    {
        var a = Agent("a");
        var b = Agent("b");
        var c = Agent("c");
        var job = Submit(3, "round_policy:\n  close: quorum\n  quorum: 2\n  deadline: 1h");
        var la = Assigned(a);
        var lb = Assigned(b);
        var lc = Assigned(c);
        Assert.Equal(UploadVerdict.Accept, (await Deliver("a", la, 0.1f)).Verdict);
        Assert.Equal(RunActionVerdict.Done, (await Act(job.Id, ShardAction.Eat, strict: true, lc.Shard)).Verdict);
        await _farm.Scheduler.FlushAsync();

        // The coordinator restarts: a new scheduler on the same stores rebuilds the run from its manifest.
        var options = Options.Create(new CoordinatorOptions { DataDirectory = Path.Combine(_farm.Root, "farm"), LeaseTimeoutMs = 3_600_000 });
        var store = new FileRunStore(options);
        var restarted = new FarmScheduler(new RunJournal(store, _farm.Time, new TestLifetime(), NullLogger<RunJournal>.Instance), new FileArtifactStore(options), _farm.Time, options, NullLogger<FarmScheduler>.Instance);
        Assert.Equal(1, await restarted.RecoverAsync(store, CancellationToken.None));
        var recovered = restarted.View.Find(job.Id)!;
        Assert.Equal([ShardStatus.Succeeded, ShardStatus.Running, ShardStatus.Eaten], new[] { la.Shard, lb.Shard, lc.Shard }.Select(i => recovered.Shards[i].Status));
        Assert.Equal(lc.Shard, Assert.Single(restarted.GetManifest(job.Id)!.Rounds[0].Quorum!.Eaten!).Shard);
        // Still eaten: the frame is neither queued again nor eaten twice.
        Assert.Contains("was eaten from round 1", (await restarted.ActOnShardsAsync(job.Id, ShardAction.Eat, [lc.Shard], Alice, strict: true)).Reason);

        // b reattaches and delivers: the round closes with a's and b's results, without c; a's result is not merged again.
        restarted.Register(SchedulerInputs.Registration("b", 1, memoryMib: 8192, cores: 4));
        var digest = _farm.Artifacts.PutWeights(_farm.Artifacts.ReadWeights(lb.GlobalWeightsDigest).Tensors).Digest;
        Assert.Equal(UploadVerdict.Accept, (await restarted.CompleteAsync(SchedulerInputs.Upload(lb, "b", digest, samples: 15, finalLoss: 0.5))).Verdict);
        var again = await restarted.CompleteAsync(SchedulerInputs.Upload(la, "a", digest, samples: 15, finalLoss: 0.5));
        Assert.NotEqual(UploadVerdict.Accept, again.Verdict);
        await restarted.FlushAsync();

        var manifest = restarted.GetManifest(job.Id)!;
        Assert.Equal(RunStates.Succeeded, manifest.State);
        var round = Assert.Single(manifest.Rounds);
        Assert.Equal(2, round.MergedResults.Count);
        var quorum = round.Quorum!;
        Assert.Equal((2, 2), (quorum.Quorum, quorum.Merged));
        Assert.Equal([lc.Shard], quorum.UnmergedShards);
        Assert.Equal((lc.Shard, "alice"), (Assert.Single(quorum.Eaten!).Shard, quorum.Eaten![0].By));
        var events = await store.ReadEventsAsync(job.Id);
        Assert.Single(events, e => e.Kind == "round-merged");
        Assert.Single(events, e => e.Kind == "shard-eaten");
    }

    [Fact]
    public void A_higher_priority_run_gets_free_agents_first_and_the_change_is_recorded()
    {
        var first = Submit(2);
        var second = Submit(2);
        Assert.Equal(RunActionVerdict.Done, _farm.Scheduler.SetPriority(second.Id, 10, Alice).Verdict);
        Assert.Equal(RunActionVerdict.Invalid, _farm.Scheduler.SetPriority(second.Id, -1, Alice).Verdict);

        var big = Agent("big", slots: 2);
        Assert.Equal([second.Id, second.Id], new[] { Assigned(big), Assigned(big) }.Select(l => l.RunId));
        Assert.Equal(10, _farm.Scheduler.View.Find(second.Id)!.Priority);
        Assert.Equal(10, _farm.Scheduler.GetManifest(second.Id)!.Controls!.Priority);
        Assert.Equal(2, _farm.Scheduler.GetJob(first.Id)!.ShardsQueued);
    }

    [Fact]
    public async Task Max_retries_set_after_launch_lets_a_shard_fail_more_and_is_kept_in_the_manifest_and_a_dead_frame_of_the_failed_run_is_not_retried()
    {
        var a = Agent("a");
        var job = Submit(1, "max_retries: 0");
        Assert.Equal(RunActionVerdict.Invalid, _farm.Scheduler.SetMaxRetries(job.Id, 101, Alice).Verdict);
        Assert.Equal(RunActionVerdict.Done, _farm.Scheduler.SetMaxRetries(job.Id, 1, Alice).Verdict);

        // With the spec's max_retries 0 this failure would have failed the run.
        _farm.Scheduler.ShardFailed("a", SchedulerInputs.Failure(Assigned(a), "out of memory"));
        Assert.Equal(RunStates.Running, _farm.Scheduler.GetJob(job.Id)!.State);
        _farm.Scheduler.ShardFailed("a", SchedulerInputs.Failure(Assigned(a), "out of memory"));
        var failed = _farm.Scheduler.GetJob(job.Id)!;
        Assert.Equal(RunStates.Failed, failed.State);
        Assert.Contains("(max_retries 1)", failed.Error);
        Assert.Equal(1, _farm.Scheduler.GetManifest(job.Id)!.Controls!.MaxRetries);

        // Cuebot would revive the job to retry its dead frame; the failed run's manifest is sealed, so the refusal says what to do instead.
        var retry = await Act(job.Id, ShardAction.Retry, strict: true, 0);
        Assert.Equal(RunActionVerdict.Refused, retry.Verdict);
        Assert.Equal("the job has finished (failed) and its run's manifest is sealed (hash-chained and signed), so no frame of it can be retried: rmtc does not revive a finished job as Cuebot does. To train it again, launch its spec again as a new job (pycue's launchSpec, pyoutline's cuerun, or rmtc submit SPEC); where its frames died after too many failed attempts, raise <maxretries> (max_retries in a YAML spec; it was 1); the new job starts from its first round, on the same data with the same seed", retry.Reason);
        Assert.Equal(RunStates.Failed, _farm.Scheduler.GetJob(job.Id)!.State);
    }

    [Fact]
    public async Task Comments_are_kept_with_the_run_in_order_and_refused_once_it_ended()
    {
        var job = Submit(1);
        Assert.Equal(RunActionVerdict.Done, _farm.Scheduler.AddComment(job.Id, "alice", "slow shards", "node 7 is throttled", Alice).Verdict);
        Assert.Equal(RunActionVerdict.Done, _farm.Scheduler.AddComment(job.Id, "", "rerun", "", Alice).Verdict);
        Assert.Equal(RunActionVerdict.Invalid, _farm.Scheduler.AddComment(job.Id, "bob", " ", "", Alice).Verdict);
        Assert.Equal(RunActionVerdict.Invalid, _farm.Scheduler.AddComment(job.Id, "bob", "x", new string('m', FarmScheduler.MaxCommentMessage + 1), Alice).Verdict);

        var comments = (await _farm.Scheduler.CommentsOfAsync(job.Id))!;
        Assert.Equal([(1, "alice", "slow shards"), (2, "alice", "rerun")], comments.Select(c => (c.Number, c.User, c.Subject)));
        Assert.Equal(2, _farm.Scheduler.GetManifest(job.Id)!.Comments!.Count);
        Assert.Equal(2, _farm.Scheduler.View.Find(job.Id)!.Comments);

        _farm.Scheduler.Cancel(job.Id, "test");
        Assert.Equal(RunActionVerdict.Refused, _farm.Scheduler.AddComment(job.Id, "alice", "late", "", Alice).Verdict);
        Assert.Equal(2, (await _farm.Scheduler.CommentsOfAsync(job.Id))!.Count);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _farm.DisposeAsync().AsTask();
}
