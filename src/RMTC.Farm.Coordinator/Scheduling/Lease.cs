using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>One shard attempt leased to one agent. Its epoch fences out results of earlier leases.</summary>
internal sealed class Lease
{
    public required string Id { get; init; }
    public required long Epoch { get; init; }
    public required RunState Run { get; init; }
    public required int Round { get; init; }
    public required ShardState Shard { get; init; }
    public required AgentState Agent { get; init; }
    public required AttemptRecord Attempt { get; init; }
    public required DateTimeOffset GrantedAt { get; init; }
    public LeaseProgress? Progress { get; set; }
    /// <summary>A second attempt of a straggling shard, started while the first still runs.</summary>
    public bool Speculative { get; init; }
}
