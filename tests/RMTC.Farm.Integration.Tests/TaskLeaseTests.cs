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

/// <summary>A round's evaluation as a lease, with a fake clock: queued at the merge, expired and leased again, fenced, and ending the run.</summary>
public sealed class TaskLeaseTests : IAsyncLifetime
{
    private readonly SchedulerHarness _farm = new("rmtc-tasklease-", "2026-11-23T10:00:00Z", leaseTimeoutMs: 5000, samples: 40);
    private readonly string _data;

    public TaskLeaseTests()
    {
        _data = EvaluationRunTests.WithTestSplit(_farm.Data, 10);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _farm.DisposeAsync().AsTask();

    private System.Threading.Channels.ChannelReader<AgentCommand> Agent(string id)
    {
        var registration = _farm.Scheduler.Register(SchedulerInputs.Registration(id));
        return _farm.Scheduler.Connect(id, registration.SessionToken);
    }

    private static WorkOrder? Next(System.Threading.Channels.ChannelReader<AgentCommand> inbox) =>
        inbox.TryRead(out var m) && m is AssignWork assign ? assign.Order : null;

    [Fact]
    public async Task An_expired_evaluation_is_leased_again_its_stale_report_is_ignored_and_the_run_ends_with_the_figures()
    {
        var inboxes = new Dictionary<string, System.Threading.Channels.ChannelReader<AgentCommand>> { ["a"] = Agent("a"), ["b"] = Agent("b") };
        var job = _farm.Scheduler.SubmitPrepared(new JobSubmission { SpecYaml = $"name: t\nrecipe: classifier\ndataset: {_data}\nshards: 1\nrounds: 1\n", SourceName = "t.yaml" });

        // The one shard: its result is the initial weights (a valid model), merged at once.
        var (shardAgent, shard) = inboxes.Select(kv => (kv.Key, Next(kv.Value))).Single(x => x.Item2 is not null);
        Assert.Equal(WorkKind.Shard, shard!.Kind);
        var initial = _farm.Scheduler.GetManifest(job.Id)!.InitialWeightsDigest;
        var merged = await _farm.Scheduler.CompleteAsync(
            SchedulerInputs.Upload(shard, shardAgent, initial, samples: shard.SampleIndices.Count, finalLoss: 0.5, totalBytes: _farm.Artifacts.SizeOf(initial)),
            valuesChecked: true);
        Assert.Equal(UploadVerdict.Accept, merged.Verdict);

        // The round is merged; its evaluation is leased like a shard, and the run waits for it.
        var (first, evaluation) = inboxes.Select(kv => (kv.Key, Next(kv.Value))).Single(x => x.Item2 is not null);
        Assert.Equal(WorkKind.Evaluate, evaluation!.Kind);
        Assert.Equal(10, evaluation.SampleIndices.Count);
        var manifest = _farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(manifest.Rounds[0].OutputDigest, evaluation.GlobalWeightsDigest);
        Assert.Equal(RunStates.Running, _farm.Scheduler.GetJob(job.Id)!.State);

        // Its agent goes silent: the lease expires and the evaluation goes to the other agent, with a newer epoch.
        var second = first == "a" ? "b" : "a";
        _farm.Time.Advance(TimeSpan.FromMilliseconds(5100));
        _farm.Scheduler.Heartbeat(second, SchedulerInputs.Heartbeat());
        Assert.Equal(1, _farm.Scheduler.ExpireSilentAgents());
        var again = Next(inboxes[second]);
        Assert.Equal(WorkKind.Evaluate, again!.Kind);
        Assert.True(again.LeaseEpoch > evaluation.LeaseEpoch);

        // The first agent's late figures are fenced out; the second's land on the round and end the run.
        _farm.Scheduler.EvaluationReported(first, SchedulerInputs.Evaluation(evaluation, loss: 9, accuracy: 0.1, samples: 10));
        Assert.Null(_farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Evaluation);
        _farm.Scheduler.EvaluationReported(second, SchedulerInputs.Evaluation(again, loss: 0.7, accuracy: 0.6, samples: 10, seconds: 0.2, device: "cpu"));

        var done = _farm.Scheduler.GetJob(job.Id)!;
        Assert.Equal(RunStates.Succeeded, done.State);
        Assert.Equal(0.6, done.CompletedRounds[0].EvalAccuracy);
        manifest = _farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(0.7, manifest.Rounds[0].Evaluation!.Loss);
        var task = Assert.Single(manifest.Tasks!);
        Assert.Equal([AttemptOutcomes.Expired, AttemptOutcomes.Succeeded], task.Attempts.Select(x => x.Outcome));
        Assert.Equal([first, second], task.Attempts.Select(x => x.AgentId));
        Assert.NotNull(task.EndedAt);
        Assert.NotNull(manifest.Seal);
    }

    [Fact]
    public async Task An_evaluation_that_keeps_failing_leaves_its_round_unevaluated_and_the_run_succeeds()
    {
        var inbox = Agent("a");
        var job = _farm.Scheduler.SubmitPrepared(new JobSubmission { SpecYaml = $"name: t\nrecipe: classifier\ndataset: {_data}\nshards: 1\nrounds: 1\nmax_retries: 1\n", SourceName = "t.yaml" });
        var shard = Next(inbox)!;
        var initial = _farm.Scheduler.GetManifest(job.Id)!.InitialWeightsDigest;
        await _farm.Scheduler.CompleteAsync(SchedulerInputs.Upload(shard, "a", initial, samples: 1, totalBytes: _farm.Artifacts.SizeOf(initial)), valuesChecked: true);

        for (var i = 0; i < 2; i++)
        {
            var evaluation = Next(inbox)!;
            Assert.Equal(WorkKind.Evaluate, evaluation.Kind);
            _farm.Scheduler.ShardFailed("a", SchedulerInputs.Failure(evaluation, "dataset moved"));
        }

        Assert.Null(Next(inbox));
        Assert.Equal(RunStates.Succeeded, _farm.Scheduler.GetJob(job.Id)!.State);
        var manifest = _farm.Scheduler.GetManifest(job.Id)!;
        Assert.Null(manifest.Rounds[0].Evaluation);
        Assert.Contains("dataset moved", manifest.Tasks![0].Error);
    }
}
