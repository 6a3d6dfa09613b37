using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution;

/// <summary>A shard attempt the agent is running now, as heartbeats report it.</summary>
public sealed class RunningShard
{
    public required Assignment Assignment { get; init; }
    public required CancellationTokenSource Cancellation { get; init; }
    public string Phase { get; set; } = "starting";
    public ShardProgress Progress { get; set; } = new();
    public Task? Task { get; set; }
}
