using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>The scheduler's decisions with a fake clock: expiry and fitting without sleeping or networking.</summary>
public sealed class SchedulerTests : IAsyncLifetime
{
    private readonly SchedulerHarness _farm = new("rmtc-sched-", "2026-11-23T10:00:00Z", leaseTimeoutMs: 5000);

    private (string Id, System.Threading.Channels.ChannelReader<AgentCommand> Inbox) Agent(string id, uint gpus = 0, params string[] tags) => Agent(id, 1, gpus, tags);

    private (string Id, System.Threading.Channels.ChannelReader<AgentCommand> Inbox) Agent(string id, uint slots, uint gpus, params string[] tags)
    {
        var registration = _farm.Scheduler.Register(SchedulerInputs.Registration(id, (int)slots, gpus, tags: tags));
        return (id, _farm.Scheduler.Connect(id, registration.SessionToken));
    }

    private RunStatus Submit(string extra = "", int shards = 2) => _farm.Scheduler.SubmitPrepared(new JobSubmission
    {
        SpecYaml = $"name: s\nrecipe: classifier\ndataset: {_farm.Data}\nshards: {shards}\nrounds: 1\n{extra}",
        SourceName = "test.yaml",
    });

    [Fact]
    public void A_silent_agent_loses_its_lease_after_the_timeout_and_the_shard_moves_to_a_live_agent()
    {
        var a = Agent("a");
        var b = Agent("b");
        var job = Submit();
        Assert.True(a.Inbox.TryRead(out var leaseA));
        Assert.True(b.Inbox.TryRead(out _));

        // b keeps heartbeating; a goes silent. Just before the timeout nothing happens.
        _farm.Time.Advance(TimeSpan.FromMilliseconds(4900));
        _farm.Scheduler.Heartbeat("b", SchedulerInputs.Heartbeat());
        Assert.Equal(0, _farm.Scheduler.ExpireSilentAgents());

        _farm.Time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Equal(1, _farm.Scheduler.ExpireSilentAgents());
        var attempts = _farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts;
        Assert.Equal(AttemptOutcomes.Expired, attempts.Single(x => x.LeaseId == leaseA.Assign.LeaseId).Outcome);

        // The shard waits for a free slot: b is busy, a is gone. Once b frees up (its lease fails), it gets both in turn.
        Assert.Equal(1, _farm.Scheduler.GetJob(job.Id)!.ShardsQueued);
    }

    [Fact]
    public void Shards_go_only_to_agents_that_fit_and_status_says_why_they_wait()
    {
        var cpu = Agent("cpu-node");
        var job = Submit("resources: { gpus: 1, tags: [lighting] }");
        Assert.False(cpu.Inbox.TryRead(out _));
        Assert.Contains("no connected agent fits", _farm.Scheduler.GetJob(job.Id)!.WaitingReason);

        var gpu = Agent("gpu-node", gpus: 2, "lighting", "gpu");
        Assert.True(gpu.Inbox.TryRead(out var message));
        Assert.Equal(job.Id, message.Assign.RunId);
    }

    [Fact]
    public void The_published_view_shows_a_submission_at_once_and_shard_moves_within_its_age_limit()
    {
        var before = _farm.Scheduler.View;
        var job = Submit(shards: 3);
        // A new run is something readers must see at once (OpenCue answers a launch with it).
        var submitted = _farm.Scheduler.View;
        Assert.True(submitted.Version > before.Version);
        Assert.Equal(ShardStatus.Waiting, submitted.Find(job.Id)!.Shards[0].Status);
        Assert.Same(submitted, _farm.Scheduler.View);

        // A lease is an ordinary move: the view may lag it, never by more than ViewMaxAge.
        var a = Agent("a");
        Assert.True(a.Inbox.TryRead(out _));
        _farm.Scheduler.Heartbeat("a", SchedulerInputs.Heartbeat());
        var lagging = _farm.Scheduler.View;
        _farm.Time.Advance(FarmScheduler.ViewMaxAge);
        var fresh = _farm.Scheduler.View;
        Assert.True(fresh.Version >= lagging.Version);
        Assert.Single(fresh.Find(job.Id)!.Shards, s => s.Status == ShardStatus.Running);
        Assert.Equal(2, fresh.Counts.ShardsQueued);
        Assert.Equal(1, fresh.Counts.ShardsRunning);
        Assert.Equal(1, fresh.Counts.AgentsConnected);
        // Unchanged farm, same view: readers share one immutable object.
        _farm.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.Same(_farm.Scheduler.View, _farm.Scheduler.View);
    }

    [Fact]
    public void A_stale_epoch_is_refused_and_a_repeated_upload_is_recognised()
    {
        var a = Agent("a");
        Submit();
        Assert.True(a.Inbox.TryRead(out var lease));
        var header = SchedulerInputs.Upload(lease.Assign, "a", new string('0', 64)) with { LeaseEpoch = lease.Assign.LeaseEpoch + 1 };
        Assert.Equal(UploadVerdict.Stale, _farm.Scheduler.CheckUpload(header).Verdict);
        header = header with { LeaseEpoch = lease.Assign.LeaseEpoch };
        Assert.Equal(UploadVerdict.Accept, _farm.Scheduler.CheckUpload(header).Verdict);
        header = header with { AgentId = "impostor" };
        Assert.Equal(UploadVerdict.Stale, _farm.Scheduler.CheckUpload(header).Verdict);
    }

    private static List<WorkOrder> Drain(System.Threading.Channels.ChannelReader<AgentCommand> inbox)
    {
        var leases = new List<WorkOrder>();
        while (inbox.TryRead(out var message))
        {
            if (message is AssignWork assign)
            {
                leases.Add(assign.Order);
            }
        }

        return leases;
    }

    [Fact]
    public void Free_slots_fill_in_submission_order_and_the_least_loaded_agent_goes_first()
    {
        var first = Submit(shards: 3);
        var second = Submit(shards: 3);
        var big = Agent("big", slots: 3, gpus: 0);
        var small = Agent("small", slots: 1, gpus: 0);

        // "big" connected first and took the whole first run; "small" then takes the second run's first shard.
        var bigLeases = Drain(big.Inbox);
        var smallLeases = Drain(small.Inbox);
        Assert.Equal([first.Id, first.Id, first.Id], bigLeases.Select(l => l.RunId));
        Assert.Equal([0, 1, 2], bigLeases.Select(l => l.Shard));
        Assert.Equal(second.Id, Assert.Single(smallLeases).RunId);
        Assert.Equal(2, _farm.Scheduler.GetJob(second.Id)!.ShardsQueued);

        // A failed attempt goes to the back of its run's queue; the freed slot takes the oldest waiting shard first.
        _farm.Scheduler.ShardFailed("big", SchedulerInputs.Failure(bigLeases[1], "test"));
        var next = Assert.Single(Drain(big.Inbox));
        Assert.Equal((first.Id, 1), (next.RunId, next.Shard));
        Assert.Equal(2, next.Attempt);
    }

    [Fact]
    public void A_built_in_recipes_optimiser_settings_go_out_in_every_assignment_and_adam_goes_out_as_before()
    {
        var a = Agent("a");
        Submit("local: { epochs: 1, optimizer: sgd, momentum: 0.9, weight_decay: 0.0005 }", shards: 1);
        var sgd = Assert.Single(Drain(a.Inbox));
        Assert.Equal(("sgd", 0.9, 0.0005), (sgd.Optimizer, sgd.Momentum, sgd.WeightDecay));
        Assert.Null(sgd.Model);

        var b = Agent("b");
        Submit(shards: 1);
        var adam = Assert.Single(Drain(b.Inbox));
        // Nothing said: the fields stay empty, which an agent reads as adam without weight decay.
        Assert.Equal(("", 0.0, 0.0), (adam.Optimizer, adam.Momentum, adam.WeightDecay));
    }

    [Fact]
    public void Every_free_slot_of_many_agents_gets_one_shard_and_none_gets_two()
    {
        var agents = Enumerable.Range(0, 12).Select(i => Agent($"n{i:D2}")).ToList();
        var job = Submit(shards: 20);

        var counts = agents.Select(a => Drain(a.Inbox).Count).ToList();
        Assert.All(counts, c => Assert.Equal(1, c));
        Assert.Equal(8, _farm.Scheduler.GetJob(job.Id)!.ShardsQueued);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _farm.DisposeAsync().AsTask();
}
