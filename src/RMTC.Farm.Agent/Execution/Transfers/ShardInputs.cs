using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Agent.Execution.Transfers;

/// <summary>What an attempt trains from, fetched by digest into the node's weights cache.</summary>
/// <param name="WeightsPath">The round's global weights; empty for a prepare task (it makes the first ones).</param>
/// <param name="Model">The run's own TorchScript model; null for a built-in recipe.</param>
/// <param name="ResumeCheckpointPath">The checkpoint of a preempted attempt to resume from; null to start afresh.</param>
public sealed record ShardInputs(string WeightsPath, ScriptedModel? Model, string? ResumeCheckpointPath);
