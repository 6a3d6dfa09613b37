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
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// Round policies with a fake clock: a straggler's speculative twin (first valid result wins, the other is cancelled) and
/// a round closed by its quorum at the deadline, with real weight files merged.
/// </summary>
public sealed class RoundPolicyTests : IAsyncLifetime
{
    // Leases outlive every step of these tests: only the policies move shards around.
    private readonly SchedulerHarness _farm = new("rmtc-policy-", "2026-12-02T10:00:00Z", leaseTimeoutMs: 3_600_000);

    private ChannelReader<AgentCommand> Agent(string id)
    {
        var registration = _farm.Scheduler.Register(SchedulerInputs.Registration(id, memoryMib: 8192, cores: 4));
        return _farm.Scheduler.Connect(id, registration.SessionToken);
    }

    private RunStatus Submit(int shards, string policy) => _farm.Scheduler.SubmitPrepared(new JobSubmission
    {
        SpecYaml = $"name: policy\nrecipe: classifier\ndataset: {_farm.Data}\nshards: {shards}\nrounds: 1\nround_policy:\n{policy}",
        SourceName = "policy.yaml",
    });

    private static WorkOrder Assigned(ChannelReader<AgentCommand> inbox) => SchedulerHarness.Assigned(inbox);

    private static CancelWork Cancelled(ChannelReader<AgentCommand> inbox)
    {
        Assert.True(inbox.TryRead(out var message), "the agent was not told to stop");
        return message.Cancel;
    }

    private Task<UploadDecision> Deliver(string agent, WorkOrder lease, float shift, bool poison = false) => _farm.DeliverAsync(agent, lease, shift, poison);

    [Fact]
    public async Task A_straggler_is_also_leased_elsewhere_and_the_first_valid_result_wins_while_the_other_is_cancelled()
    {
        var a = Agent("a");
        var b = Agent("b");
        var job = Submit(2, "  straggler_after: 30s");
        var slow = Assigned(a);
        var fast = Assigned(b);
        Assert.Equal(UploadVerdict.Accept, (await Deliver("b", fast, 0.1f)).Verdict);

        // Before the threshold nothing is speculated; after it, the free agent b also gets the straggling shard.
        _farm.Time.Advance(TimeSpan.FromSeconds(20));
        await _farm.Scheduler.EnforceRoundPoliciesAsync();
        Assert.False(b.TryRead(out _));
        _farm.Time.Advance(TimeSpan.FromSeconds(11));
        await _farm.Scheduler.EnforceRoundPoliciesAsync();
        var twin = Assigned(b);
        Assert.Equal(slow.Shard, twin.Shard);
        Assert.True(twin.LeaseEpoch > slow.LeaseEpoch);

        // A twin gets one speculative lease, not one per tick.
        _farm.Time.Advance(TimeSpan.FromSeconds(60));
        var c = Agent("c");
        await _farm.Scheduler.EnforceRoundPoliciesAsync();
        Assert.False(c.TryRead(out _));

        // The twin delivers first: merged; the straggler is told to stop and its late result is refused as stale.
        Assert.Equal(UploadVerdict.Accept, (await Deliver("b", twin, 0.2f)).Verdict);
        Assert.Equal(slow.LeaseId, Cancelled(a).LeaseId);
        Assert.Equal(UploadVerdict.Stale, (await Deliver("a", slow, 0.3f)).Verdict);

        await _farm.Scheduler.FlushAsync();
        var manifest = _farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(RunStates.Succeeded, manifest.State);
        var round = manifest.Rounds[0];
        var attempts = round.Attempts.Where(x => x.Shard == slow.Shard).ToList();
        Assert.Equal(AttemptOutcomes.Cancelled, attempts.Single(x => x.LeaseId == slow.LeaseId).Outcome);
        Assert.Equal(AttemptOutcomes.Succeeded, attempts.Single(x => x.LeaseId == twin.LeaseId).Outcome);
        Assert.Equal(2, round.MergedResults.Count);
        Assert.Contains(attempts.Single(x => x.LeaseId == twin.LeaseId).ResultDigest, round.MergedResults);
        Assert.Null(round.Quorum);
    }

    [Fact]
    public async Task A_refused_twin_leaves_the_first_attempt_running_and_the_shard_is_not_queued_again()
    {
        var a = Agent("a");
        var b = Agent("b");
        var job = Submit(1, "  straggler_after: 1m");
        var first = Assigned(a);
        _farm.Time.Advance(TimeSpan.FromMinutes(2));
        await _farm.Scheduler.EnforceRoundPoliciesAsync();
        var twin = Assigned(b);

        Assert.Equal(UploadVerdict.Rejected, (await Deliver("b", twin, 0, poison: true)).Verdict);
        Assert.False(a.TryRead(out _));
        var status = _farm.Scheduler.GetJob(job.Id)!;
        Assert.Equal((1, 0), (status.ShardsRunning, status.ShardsQueued));

        Assert.Equal(UploadVerdict.Accept, (await Deliver("a", first, 0.1f)).Verdict);
        await _farm.Scheduler.FlushAsync();
        var attempts = _farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts;
        Assert.Equal([AttemptOutcomes.Succeeded, AttemptOutcomes.Refused], attempts.OrderBy(x => x.LeaseEpoch).Select(x => x.Outcome));
    }

    [Fact]
    public async Task A_yielding_node_gets_no_twin_and_a_twin_that_yields_leaves_the_shard_to_the_first_attempt()
    {
        var a = Agent("a");
        var b = Agent("b");
        var job = Submit(1, "  straggler_after: 1m");
        var first = Assigned(a);

        // b's node renders: no twin for it however long the straggler runs.
        _farm.Scheduler.Heartbeat("b", SchedulerInputs.Heartbeat(yielding: true, "flag file exists"));
        _farm.Time.Advance(TimeSpan.FromMinutes(2));
        await _farm.Scheduler.EnforceRoundPoliciesAsync();
        Assert.False(b.TryRead(out _));

        // Free again: b gets the twin; then b yields the twin to a render. The shard stays with a, is not queued again,
        // and the twin is recorded as preempted, not cancelled or failed.
        _farm.Scheduler.Heartbeat("b", SchedulerInputs.Heartbeat());
        await _farm.Scheduler.EnforceRoundPoliciesAsync();
        var twin = Assigned(b);
        _farm.Scheduler.ShardYielded("b", SchedulerInputs.Yield(twin, "SIGUSR1"));
        var status = _farm.Scheduler.GetJob(job.Id)!;
        Assert.Equal((1, 0), (status.ShardsRunning, status.ShardsQueued));
        Assert.False(a.TryRead(out _));

        Assert.Equal(UploadVerdict.Accept, (await Deliver("a", first, 0.1f)).Verdict);
        await _farm.Scheduler.FlushAsync();
        var manifest = _farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(RunStates.Succeeded, manifest.State);
        Assert.Equal([AttemptOutcomes.Succeeded, AttemptOutcomes.Preempted], manifest.Rounds[0].Attempts.OrderBy(x => x.LeaseEpoch).Select(x => x.Outcome));
    }

    [Fact]
    public async Task At_the_deadline_a_quorum_closes_the_round_and_the_manifest_names_what_was_merged_and_what_was_left_out()
    {
        var a = Agent("a");
        var b = Agent("b");
        var c = Agent("c");
        var job = Submit(3, "  close: quorum\n  quorum: 2\n  deadline: 1m");
        var la = Assigned(a);
        var lb = Assigned(b);
        var lc = Assigned(c);

        // One result before the deadline, none after it: a quorum of 2 is not there, the round waits.
        Assert.Equal(UploadVerdict.Accept, (await Deliver("a", la, 0.1f)).Verdict);
        _farm.Time.Advance(TimeSpan.FromSeconds(61));
        await _farm.Scheduler.EnforceRoundPoliciesAsync();
        Assert.Equal(RunStates.Running, _farm.Scheduler.GetJob(job.Id)!.State);

        // The second result completes the quorum past the deadline: the round closes at once, c is told to stop.
        Assert.Equal(UploadVerdict.Accept, (await Deliver("b", lb, 0.2f)).Verdict);
        Assert.Equal(lc.LeaseId, Cancelled(c).LeaseId);
        Assert.Equal(UploadVerdict.Stale, (await Deliver("c", lc, 0.3f)).Verdict);

        await _farm.Scheduler.FlushAsync();
        var manifest = _farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(RunStates.Succeeded, manifest.State);
        var round = manifest.Rounds[0];
        Assert.Equal(2, round.MergedResults.Count);
        Assert.NotNull(round.Quorum);
        Assert.Equal((2, 2), (round.Quorum!.Quorum, round.Quorum.Merged));
        Assert.Equal([lc.Shard], round.Quorum.UnmergedShards);
        Assert.Equal(AttemptOutcomes.Cancelled, round.Attempts.Single(x => x.LeaseId == lc.LeaseId).Outcome);
        Assert.Null(round.Shards[lc.Shard].ResultDigest);
    }

    [Fact]
    public async Task A_quorum_reached_before_the_deadline_waits_for_it_and_the_clock_closes_the_round()
    {
        var a = Agent("a");
        var b = Agent("b");
        var job = Submit(2, "  close: quorum\n  quorum: 1\n  deadline: 10m");
        var la = Assigned(a);
        var lb = Assigned(b);
        Assert.Equal(UploadVerdict.Accept, (await Deliver("a", la, 0.1f)).Verdict);
        await _farm.Scheduler.EnforceRoundPoliciesAsync();
        Assert.Equal(RunStates.Running, _farm.Scheduler.GetJob(job.Id)!.State);

        _farm.Time.Advance(TimeSpan.FromMinutes(10));
        await _farm.Scheduler.EnforceRoundPoliciesAsync();
        Assert.Equal(lb.LeaseId, Cancelled(b).LeaseId);
        await _farm.Scheduler.FlushAsync();
        var manifest = _farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(RunStates.Succeeded, manifest.State);
        Assert.Equal([lb.Shard], manifest.Rounds[0].Quorum!.UnmergedShards);
        Assert.Contains(manifest.Rounds[0].MergedResults, d => d == manifest.Rounds[0].Shards[la.Shard].ResultDigest);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _farm.DisposeAsync().AsTask();
}
