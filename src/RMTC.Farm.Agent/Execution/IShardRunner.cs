namespace RMTC.Farm.Agent.Execution;

/// <summary>
/// Runs the training part of an attempt whose inputs are fetched: the real trainer process
/// (<see cref="Trainer.TrainerShardRunner"/>) or, when <c>Agent:SimulateTrainingMs</c> is set, the simulation
/// (<see cref="Simulation.SimulatedTrainingRunner"/>). Cancellation ends it with <see cref="OperationCanceledException"/>.
/// </summary>
public interface IShardRunner
{
    /// <summary>Runs <paramref name="attempt"/> until it ends, yields or fails.</summary>
    Task<ShardRunOutcome> RunAsync(ShardAttempt attempt, CancellationToken cancellationToken);
}
