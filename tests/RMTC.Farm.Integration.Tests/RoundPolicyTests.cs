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
    private readonly string _root = Directory.CreateTempSubdirectory("rmtc-policy-").FullName;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly FarmScheduler _scheduler;
    private readonly IArtifactStore _artifacts;
    private readonly string _data;

    public RoundPolicyTests()
    {
        // Leases outlive every step of these tests: only the policies move shards around.
        var options = Options.Create(new CoordinatorOptions { DataDirectory = Path.Combine(_root, "farm"), LeaseTimeoutMs = 3_600_000 });
        var journal = new RunJournal(new FileRunStore(options), _time, new TestLifetime(), NullLogger<RunJournal>.Instance);
        _artifacts = new FileArtifactStore(options);
        _scheduler = new FarmScheduler(journal, _artifacts, _time, options, NullLogger<FarmScheduler>.Instance);
        _data = Path.Combine(_root, "data");
        RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", _data, 30, seed: 1);
    }

    private ChannelReader<AgentCommand> Agent(string id)
    {
        var registration = _scheduler.Register(SchedulerInputs.Registration(id, memoryMib: 8192, cores: 4));
        return _scheduler.Connect(id, registration.SessionToken);
    }

    private RunStatus Submit(int shards, string policy) => _scheduler.SubmitPrepared(new JobSubmission
    {
        SpecYaml = $"name: policy\nrecipe: classifier\ndataset: {_data}\nshards: {shards}\nrounds: 1\nround_policy:\n{policy}",
        SourceName = "policy.yaml",
    });

    private static WorkOrder Assigned(ChannelReader<AgentCommand> inbox)
    {
        Assert.True(inbox.TryRead(out var message), "the agent was given no lease");
        return message.Assign;
    }

    private static CancelWork Cancelled(ChannelReader<AgentCommand> inbox)
    {
        Assert.True(inbox.TryRead(out var message), "the agent was not told to stop");
        return message.Cancel;
    }

    /// <summary>Delivers a result for <paramref name="lease"/>: the global weights shifted by <paramref name="shift"/> (or poisoned with NaN).</summary>
    private async Task<UploadDecision> Deliver(string agent, WorkOrder lease, float shift, bool poison = false)
    {
        var tensors = _artifacts.ReadWeights(lease.GlobalWeightsDigest).Tensors;
        foreach (var tensor in tensors.Where(t => t.DType == TensorDType.F32))
        {
            var values = tensor.AsFloat32();
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = poison ? float.NaN : values[i] + shift;
            }
        }

        // Stored first, as an upload is: the scheduler reads a result from the artifact store by its digest.
        var digest = _artifacts.PutWeights(tensors).Digest;
        var header = SchedulerInputs.Upload(lease, agent, digest, samples: 10, finalLoss: 0.5);
        return await _scheduler.CompleteAsync(header);
    }

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
        _time.Advance(TimeSpan.FromSeconds(20));
        await _scheduler.EnforceRoundPoliciesAsync();
        Assert.False(b.TryRead(out _));
        _time.Advance(TimeSpan.FromSeconds(11));
        await _scheduler.EnforceRoundPoliciesAsync();
        var twin = Assigned(b);
        Assert.Equal(slow.Shard, twin.Shard);
        Assert.True(twin.LeaseEpoch > slow.LeaseEpoch);

        // A twin gets one speculative lease, not one per tick.
        _time.Advance(TimeSpan.FromSeconds(60));
        var c = Agent("c");
        await _scheduler.EnforceRoundPoliciesAsync();
        Assert.False(c.TryRead(out _));

        // The twin delivers first: merged; the straggler is told to stop and its late result is refused as stale.
        Assert.Equal(UploadVerdict.Accept, (await Deliver("b", twin, 0.2f)).Verdict);
        Assert.Equal(slow.LeaseId, Cancelled(a).LeaseId);
        Assert.Equal(UploadVerdict.Stale, (await Deliver("a", slow, 0.3f)).Verdict);

        await _scheduler.FlushAsync();
        var manifest = _scheduler.GetManifest(job.Id)!;
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
        _time.Advance(TimeSpan.FromMinutes(2));
        await _scheduler.EnforceRoundPoliciesAsync();
        var twin = Assigned(b);

        Assert.Equal(UploadVerdict.Rejected, (await Deliver("b", twin, 0, poison: true)).Verdict);
        Assert.False(a.TryRead(out _));
        var status = _scheduler.GetJob(job.Id)!;
        Assert.Equal((1, 0), (status.ShardsRunning, status.ShardsQueued));

        Assert.Equal(UploadVerdict.Accept, (await Deliver("a", first, 0.1f)).Verdict);
        await _scheduler.FlushAsync();
        var attempts = _scheduler.GetManifest(job.Id)!.Rounds[0].Attempts;
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
        _scheduler.Heartbeat("b", SchedulerInputs.Heartbeat(yielding: true, "flag file exists"));
        _time.Advance(TimeSpan.FromMinutes(2));
        await _scheduler.EnforceRoundPoliciesAsync();
        Assert.False(b.TryRead(out _));

        // Free again: b gets the twin; then b yields the twin to a render. The shard stays with a, is not queued again,
        // and the twin is recorded as preempted, not cancelled or failed.
        _scheduler.Heartbeat("b", SchedulerInputs.Heartbeat());
        await _scheduler.EnforceRoundPoliciesAsync();
        var twin = Assigned(b);
        _scheduler.ShardYielded("b", SchedulerInputs.Yield(twin, "SIGUSR1"));
        var status = _scheduler.GetJob(job.Id)!;
        Assert.Equal((1, 0), (status.ShardsRunning, status.ShardsQueued));
        Assert.False(a.TryRead(out _));

        Assert.Equal(UploadVerdict.Accept, (await Deliver("a", first, 0.1f)).Verdict);
        await _scheduler.FlushAsync();
        var manifest = _scheduler.GetManifest(job.Id)!;
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
        _time.Advance(TimeSpan.FromSeconds(61));
        await _scheduler.EnforceRoundPoliciesAsync();
        Assert.Equal(RunStates.Running, _scheduler.GetJob(job.Id)!.State);

        // The second result completes the quorum past the deadline: the round closes at once, c is told to stop.
        Assert.Equal(UploadVerdict.Accept, (await Deliver("b", lb, 0.2f)).Verdict);
        Assert.Equal(lc.LeaseId, Cancelled(c).LeaseId);
        Assert.Equal(UploadVerdict.Stale, (await Deliver("c", lc, 0.3f)).Verdict);

        await _scheduler.FlushAsync();
        var manifest = _scheduler.GetManifest(job.Id)!;
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
        await _scheduler.EnforceRoundPoliciesAsync();
        Assert.Equal(RunStates.Running, _scheduler.GetJob(job.Id)!.State);

        _time.Advance(TimeSpan.FromMinutes(10));
        await _scheduler.EnforceRoundPoliciesAsync();
        Assert.Equal(lb.LeaseId, Cancelled(b).LeaseId);
        await _scheduler.FlushAsync();
        var manifest = _scheduler.GetManifest(job.Id)!;
        Assert.Equal(RunStates.Succeeded, manifest.State);
        Assert.Equal([lb.Shard], manifest.Rounds[0].Quorum!.UnmergedShards);
        Assert.Contains(manifest.Rounds[0].MergedResults, d => d == manifest.Rounds[0].Shards[la.Shard].ResultDigest);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _scheduler.FlushAsync();
        Directory.Delete(_root, recursive: true);
    }
}
