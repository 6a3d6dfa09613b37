using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution;

/// <summary>A shard attempt the agent is running now, as heartbeats report it.</summary>
public sealed class RunningShard
{
    public required Assignment Assignment { get; init; }
    public required CancellationTokenSource Cancellation { get; init; }
    public string Phase { get; set; } = "starting";
    /// <summary>When the lease reached the agent (a <see cref="TimeProvider"/> timestamp): where a shard's start is measured from.</summary>
    public long ReceivedAt { get; set; }
    public ShardProgress Progress { get; set; } = new();
    public Task? Task { get; set; }
    /// <summary>Called once the inputs are on the node: the worker tells the coordinator at once (a heartbeat), which then names this agent as a peer for them.</summary>
    public Action? InputsFetched { get; set; }
    /// <summary>Fires when the node yields to rendering: the attempt stops with a checkpoint and is handed back.</summary>
    public CancellationTokenSource YieldRequested { get; } = new();
    /// <summary>Why the node yields (flag file, probe, signal), once <see cref="YieldRequested"/> fired.</summary>
    public string YieldReason { get; set; } = "";
    /// <summary>Set when the attempt ended by yielding: what the agent reports on the session instead of a result.</summary>
    public ShardYielded? Yielded { get; set; }
    /// <summary>Set when an evaluation task finished: the figures the agent reports on the session (nothing is uploaded).</summary>
    public EvaluationReport? Evaluated { get; set; }
}
