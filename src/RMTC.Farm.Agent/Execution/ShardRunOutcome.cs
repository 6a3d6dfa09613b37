using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution;

/// <summary>How an attempt's training part ended, as an <see cref="IShardRunner"/> reports it to the <see cref="ShardExecutor"/>.</summary>
public abstract record ShardRunOutcome;

/// <summary>Weights were made (a shard trained, a run's initial weights built): the file to upload and its summary.</summary>
/// <param name="WeightsPath">The safetensors file to upload.</param>
/// <param name="Result">Samples, losses, device and seconds, sent in the upload's header.</param>
public sealed record ShardTrained(string WeightsPath, ShardResult Result) : ShardRunOutcome;

/// <summary>An evaluation finished: its figures go on the session, nothing is uploaded.</summary>
/// <param name="Figures">The evaluation's figures.</param>
public sealed record ShardEvaluated(EvaluationFigures Figures) : ShardRunOutcome;

/// <summary>The attempt stopped because the node yields to rendering: the checkpoint to hand back (null: none) and where it stood.</summary>
/// <param name="CheckpointPath">The checkpoint file; null when none was written.</param>
/// <param name="Position">Where training stood; null when the trainer did not say.</param>
public sealed record ShardYieldedToRender(string? CheckpointPath, ShardYieldReport? Position) : ShardRunOutcome;

/// <summary>The attempt failed: what the agent reports to the coordinator.</summary>
/// <param name="Failure">The session message, with its reason.</param>
public sealed record ShardRunFailed(ShardFailed Failure) : ShardRunOutcome;
