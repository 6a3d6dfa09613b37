using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>Live state of one run. Guarded by the scheduler's lock except where noted.</summary>
internal sealed class RunState
{
    public required RunManifest Manifest { get; init; }
    public required JobSpec Spec { get; init; }
    public required int[][] Plan { get; init; }
    /// <summary>Names, shapes and dtypes every result must match.</summary>
    public required SafetensorsHeader Template { get; init; }
    public required long SubmitOrder { get; init; }
    /// <summary>Indices of the evaluation split's samples (empty: no evaluation).</summary>
    public int[] EvaluationIndices { get; init; } = [];
    /// <summary>The evaluation split loaded once per run, on first use. Guarded by <see cref="MergeGate"/>.</summary>
    public Training.Loop.EvaluationSet? EvaluationSet { get; set; }
    public RunEventLog Events { get; } = new();

    public string Id => Manifest.RunId;
    public int Round { get; set; }
    public string GlobalDigest { get; set; } = "";
    /// <summary>Size of the global weights file (sent with assignments so agents can plan the fetch).</summary>
    public long GlobalBytes { get; set; }
    public ShardState[] Shards { get; set; } = [];
    /// <summary>Version of the newest manifest snapshot queued for the store (read by the journal without the lock).</summary>
    public long LatestVersion;
    /// <summary>The last entry of the run's event chain.</summary>
    public LineageEvent? LastEvent { get; set; }
    /// <summary>Reverse-index entries not yet handed to the journal.</summary>
    public List<LineageIndexEntry> PendingIndex { get; } = new();
    /// <summary>Chained events not yet handed to the journal.</summary>
    public List<LineageEvent> PendingEvents { get; } = new();
    /// <summary>The journal's last queued write for this run.</summary>
    public Task WriteTail { get; set; } = Task.CompletedTask;

    /// <summary>Serialises merges and round closing of this run (taken outside the scheduler lock).</summary>
    public SemaphoreSlim MergeGate { get; } = new(1, 1);
    /// <summary>The current round's running weighted sum. Guarded by <see cref="MergeGate"/>.</summary>
    public FedAvgAccumulator? Accumulator { get; set; }
    /// <summary>Server momentum for the nesterov strategy. Guarded by <see cref="MergeGate"/>.</summary>
    public IReadOnlyList<NamedTensor>? Momentum { get; set; }
    public double LossSum { get; set; }
    public long SamplesMerged { get; set; }

    public bool IsFinal => RunStates.IsFinal(Manifest.State);
    public RoundRecord CurrentRound => Manifest.Rounds[^1];
}

/// <summary>Where a shard of the current round stands.</summary>
internal enum ShardPhase
{
    Queued,
    Leased,
    /// <summary>A result is being validated and merged; nothing else may complete the shard.</summary>
    Completing,
    Done,
}

/// <summary>One shard of the current round.</summary>
internal sealed class ShardState
{
    public required int Index { get; init; }
    public ShardPhase Phase { get; set; } = ShardPhase.Queued;
    /// <summary>Fencing token: increases with every lease of this shard, across rounds.</summary>
    public long LeaseEpoch { get; set; }
    public Lease? Lease { get; set; }
    public int Attempts { get; set; }
    public int Failures { get; set; }
    public DateTimeOffset QueuedAt { get; set; }
    public string? ResultDigest { get; set; }
}
