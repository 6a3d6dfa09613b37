using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Execution.Trainer;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Yielding;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution.Simulation;

/// <summary>
/// The simulation of <see cref="AgentOptions.SimulateTrainingMs"/>, for measuring the farm itself (benchmarks,
/// scheduling tests): no trainer process for a shard, a fixed wait, and the global weights handed back as the result
/// (a valid model, so the coordinator merges it like any other), reported with device <c>simulated</c>. An evaluation
/// reports empty figures from device <c>simulated</c>; a run's preparation still runs the real trainer (the run needs
/// real initial weights). Everything around it (leases, fetches, uploads, fencing, heartbeats) is the real agent.
/// </summary>
public sealed class SimulatedTrainingRunner(TrainerShardRunner trainer, IOptions<AgentOptions> options, TimeProvider time) : IShardRunner
{
    /// <summary>The <c>device</c> a simulated result or evaluation reports.</summary>
    public const string Device = "simulated";

    /// <inheritdoc />
    public async Task<ShardRunOutcome> RunAsync(ShardAttempt attempt, CancellationToken cancellationToken)
    {
        var a = attempt.Shard.Assignment;
        return a.Kind switch
        {
            // Simulated training has nothing worth evaluating: the figures say so.
            TaskKind.Evaluate => new ShardEvaluated(new EvaluationFigures { Loss = 0, Samples = a.SampleIndices.Count, Seconds = 0, Device = Device }),
            TaskKind.Shard => await TrainAsync(attempt, cancellationToken),
            _ => await trainer.RunAsync(attempt, cancellationToken),
        };
    }

    private async Task<ShardRunOutcome> TrainAsync(ShardAttempt attempt, CancellationToken ct)
    {
        var shard = attempt.Shard;
        var a = shard.Assignment;
        shard.Phase = "training (simulated)";
        var total = TimeSpan.FromMilliseconds(options.Value.SimulateTrainingMs);
        // A simulated shard is preemptible too: its checkpoint is how long it has "trained", so a resumed one waits the rest.
        var done = attempt.Inputs.ResumeCheckpointPath is { } resume ? Preemption.ReadSimulatedCheckpoint(resume) : TimeSpan.Zero;
        var started = time.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, shard.YieldRequested.Token);
        try
        {
            var rest = total - done;
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest, time, stop.Token);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            var trained = done + time.GetElapsedTime(started);
            attempt.Workspace.Create();
            var checkpoint = attempt.Workspace.PathOf("checkpoint.json");
            Preemption.WriteSimulatedCheckpoint(checkpoint, trained, total);
            var samples = a.SampleIndices.Count;
            var seen = (long)Math.Min(samples, samples * trained.TotalMilliseconds / Math.Max(1, total.TotalMilliseconds));
            return new ShardYieldedToRender(checkpoint, new ShardYieldReport(1, 0, seen, samples));
        }

        var result = new ShardResult { Samples = a.SampleIndices.Count, FinalLoss = 0, EpochLosses = [], Seconds = total.TotalSeconds, Device = Device };
        return new ShardTrained(attempt.Inputs.WeightsPath, result);
    }
}
