using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Execution.Supervision;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution.Trainer;

/// <summary>
/// The production runner: writes <c>task.json</c> into the attempt's folder, runs <c>rmtc shard run</c> under the
/// <see cref="TrainerSupervisor"/>, relays its progress to heartbeats, and reads how it ended from its exit code and
/// its last <see cref="TrainerProtocol"/> messages.
/// </summary>
public sealed partial class TrainerShardRunner(TrainerSupervisor supervisor, IOptions<AgentOptions> options, TimeProvider time, ILogger<TrainerShardRunner> log) : IShardRunner
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <inheritdoc />
    public async Task<ShardRunOutcome> RunAsync(ShardAttempt attempt, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var shard = attempt.Shard;
        var a = shard.Assignment;
        var exe = o.TrainerExecutable ?? throw new InvalidOperationException("Agent:TrainerExecutable is not set: the rmtc CLI sets it to itself");
        var dir = attempt.Workspace.Create();
        var task = TrainerTasks.Create(a, attempt.Inputs, attempt.Workspace, o);
        var taskPath = attempt.Workspace.PathOf("task.json");
        await File.WriteAllTextAsync(taskPath, JsonSerializer.Serialize(task, Json), cancellationToken);

        shard.Phase = a.Kind switch { TaskKind.Prepare => "preparing", TaskKind.Evaluate => "evaluating", _ => "training" };
        var launch = new TrainerLaunch(a.LeaseId, exe, [.. o.TrainerArguments, "--task", taskPath], dir, TimeSpan.FromMilliseconds(o.CancelGraceMs));
        var exit = await supervisor.RunAsync(launch, p => Report(shard, p), shard.YieldRequested.Token, cancellationToken, s => LogFirstBatch(log, time, shard, s));
        return Interpret(exit, task, shard);
    }

    /// <summary>
    /// What the attempt came to: a whole result beats a yield (it finished before the signal reached it); a refused input
    /// is final; a yield is no failure of the shard, whatever the trainer managed; anything else fails with the trainer's
    /// last error lines.
    /// </summary>
    internal static ShardRunOutcome Interpret(TrainerExit exit, ShardTask task, RunningShard shard)
    {
        var a = shard.Assignment;
        if (exit.Refusal is { } refusal)
        {
            return new ShardRunFailed(ShardFailures.Of(a, refusal));
        }

        if (exit.Code == TrainerExitCodes.Completed)
        {
            // An evaluation sends only its figures; everything else writes weights too.
            if (task.Kind == ShardTaskKinds.Evaluate && exit.Evaluation is { } evaluation)
            {
                return new ShardEvaluated(evaluation.Figures);
            }

            if (task.Kind != ShardTaskKinds.Evaluate && exit.Result is { } result && File.Exists(task.OutputPath))
            {
                return new ShardTrained(task.OutputPath, result.Result);
            }
        }

        if (exit.Code == TrainerExitCodes.Refused && exit.Error is { Refused: true, Problems.Count: > 0 } refused)
        {
            // The input itself is refused (a run's model file fails its check): final, with the problems as the reason.
            var failure = ShardFailures.Of(a, string.Join("; ", refused.Problems));
            failure.InputRefused = true;
            return new ShardRunFailed(failure);
        }

        if (shard.YieldRequested.IsCancellationRequested)
        {
            var checkpoint = exit.Code == TrainerExitCodes.Yielded && task.CheckpointPath is { } path && File.Exists(path) ? path : null;
            return new ShardYieldedToRender(checkpoint, exit.Checkpoint?.Position);
        }

        var said = exit.ErrorTail.Length > 0 ? exit.ErrorTail : exit.Error?.Message ?? "no error output";
        var unread = exit.ProblemCount > 0
            ? $"; {exit.ProblemCount} line(s) of its output were not trainer protocol {TrainerProtocol.Version}, the first: {exit.Problems[0]}"
            : "";
        return new ShardRunFailed(ShardFailures.Of(a, $"trainer exited with code {exit.Code}: {said}{unread}"));
    }

    /// <summary>Logs how long the shard took from its lease to its first batch (the trainer's <see cref="TrainerStarted"/>), warm or cold.</summary>
    internal static void LogFirstBatch(ILogger log, TimeProvider time, RunningShard shard, TrainerStarted started) =>
        LogShardStarted(log, shard.Assignment.LeaseId, time.GetElapsedTime(shard.ReceivedAt).TotalMilliseconds,
            started.Warm ? "warm" : "cold", started.SetupSeconds * 1000);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: first batch {StartMs:F0} ms after the lease arrived ({Mode} trainer; {SetupMs:F0} ms of it reading samples and building the model)")]
    private static partial void LogShardStarted(ILogger log, string leaseId, double startMs, string mode, double setupMs);

    /// <summary>Relays a trainer's progress to the shard's heartbeats.</summary>
    internal static void Report(RunningShard shard, TrainingProgress p) => shard.Progress = new ShardProgress
    {
        LeaseId = shard.Assignment.LeaseId,
        LeaseEpoch = shard.Assignment.LeaseEpoch,
        Phase = "training",
        TrainingEpoch = (uint)p.Epoch,
        TrainingEpochs = (uint)p.Epochs,
        SamplesSeen = (ulong)p.SamplesSeen,
        SamplesTotal = (ulong)p.SamplesTotal,
        Loss = p.Loss,
    };
}
