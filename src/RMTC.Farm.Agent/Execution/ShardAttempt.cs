using RMTC.Farm.Agent.Execution.Transfers;
using RMTC.Farm.Agent.Execution.Workspace;

namespace RMTC.Farm.Agent.Execution;

/// <summary>One attempt as a runner sees it: the shard (assignment, progress, yield request), its fetched inputs, its folder.</summary>
/// <param name="Shard">The running shard heartbeats report.</param>
/// <param name="Inputs">Global weights, model file and checkpoint, fetched by digest.</param>
/// <param name="Workspace">The attempt's own folder, removed when it ends.</param>
public sealed record ShardAttempt(RunningShard Shard, ShardInputs Inputs, ShardWorkspace Workspace);
