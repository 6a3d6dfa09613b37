namespace RMTC.Farm.Core.Lineage;

/// <summary>
/// Training-side work of a run other than its shards, leased to agents like a shard: the run's preparation (the model's
/// initial weights) and each round's held-out evaluation. Its attempts are recorded like a shard's (agent, lease, epoch,
/// times, outcome), so the lineage says where every figure and every starting weight was computed.
/// </summary>
public sealed class TaskRecord
{
    /// <summary><see cref="TaskKinds.Prepare"/> or <see cref="TaskKinds.Evaluate"/>.</summary>
    public string Kind { get; set; } = TaskKinds.Evaluate;
    /// <summary>The round whose merged weights are evaluated; 0 for the preparation.</summary>
    public int Round { get; set; }
    /// <summary>Weights the task reads (the round's output for an evaluation); null for the preparation.</summary>
    public string? InputDigest { get; set; }
    /// <summary>Weights the task produced (the initial weights for the preparation); null otherwise.</summary>
    public string? OutputDigest { get; set; }
    public DateTimeOffset QueuedAt { get; set; }
    /// <summary>Set when the task is done: succeeded, or given up after its retries (then <see cref="Error"/> says why).</summary>
    public DateTimeOffset? EndedAt { get; set; }
    public string? Error { get; set; }
    public List<AttemptRecord> Attempts { get; set; } = new();
}

/// <summary>Kinds of <see cref="TaskRecord"/>.</summary>
public static class TaskKinds
{
    /// <summary>Build the recipe's (or model's) initial weights from the run's seed and store them.</summary>
    public const string Prepare = "prepare";

    /// <summary>Evaluate a round's merged weights on the run's evaluation split.</summary>
    public const string Evaluate = "evaluate";
}
