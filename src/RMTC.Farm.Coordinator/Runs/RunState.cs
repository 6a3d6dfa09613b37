using RMTC.Farm.Coordinator.Merging;
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
    /// <summary>Names, shapes and dtypes every result must match (the initial weights'; empty while the run is being prepared).</summary>
    public required SafetensorsHeader Template { get; set; }
    public required long SubmitOrder { get; init; }
    /// <summary>Indices of the evaluation split's samples (empty: no evaluation).</summary>
    public int[] EvaluationIndices { get; init; } = [];
    /// <summary>The run's preparation and evaluations not yet done (queued or leased), oldest first. See <c>FarmScheduler.Tasks.cs</c>.</summary>
    public List<RunTask> Tasks { get; } = new();
    /// <summary>The last round is merged and the run ends once its pending evaluations are in.</summary>
    public bool AwaitingEvaluations { get; set; }
    public RunEventLog Events { get; } = new();

    public string Id => Manifest.RunId;
    public int Round { get; set; }
    public string GlobalDigest { get; set; } = "";
    /// <summary>Size of the global weights file (sent with assignments so agents can plan the fetch).</summary>
    public long GlobalBytes { get; set; }
    /// <summary>The current round's shards. Replacing them starts a new <see cref="Tally"/>, which the new shards must join.</summary>
    public ShardState[] Shards
    {
        get;
        set
        {
            field = value;
            Tally = new ShardTally();
        }
    } = [];

    /// <summary>How many of the current round's shards are in each phase, kept as they move (status and events read it, never a walk of the shards).</summary>
    public ShardTally Tally { get; private set; } = new();
    /// <summary>Paused runs get no new leases; running attempts finish (OpenCue's Pause).</summary>
    public bool Paused { get; set; }
    /// <summary>
    /// Version of the newest manifest snapshot queued for the store. Only the scheduler's lock holder reads or writes it
    /// (the journal asks through its snapshot callback, which takes the lock), so it needs no memory barrier of its own.
    /// </summary>
    public long LatestVersion { get; set; }
    /// <summary>Completes when the write of <see cref="LatestVersion"/> has landed (see <c>FarmScheduler.SaveLocked</c>).</summary>
    public Task LatestSave { get; set; } = Task.CompletedTask;
    /// <summary>The last entry of the run's event chain.</summary>
    public LineageEvent? LastEvent { get; set; }
    /// <summary>Reverse-index entries not yet handed to the journal.</summary>
    public List<LineageIndexEntry> PendingIndex { get; } = new();
    /// <summary>Chained events not yet handed to the journal.</summary>
    public List<LineageEvent> PendingEvents { get; } = new();
    /// <summary>The journal's queue of writes for this run (its own lock).</summary>
    public JournalQueue Journal { get; } = new();
    /// <summary>What of the manifest the store holds, so each write carries what changed (see <see cref="ManifestTracker"/>).</summary>
    public ManifestTracker Recording { get; } = new();

    /// <summary>
    /// The highest lease epoch this run may grant: reserved in the store, or (a new run's first block) to be reserved by
    /// the journal ahead of the run's first manifest. See <c>FarmScheduler.Epochs.cs</c>.
    /// </summary>
    public long EpochsReserved { get; set; }
    /// <summary>The highest lease epoch granted (or recovered) for any shard of the run.</summary>
    public long EpochHighWater { get; set; }
    /// <summary>A reservation of more epochs is in flight.</summary>
    public bool EpochsRefilling { get; set; }
    /// <summary>Epochs the next journal batch reserves before it writes anything else (a new run's first block); 0: none.</summary>
    public int PendingEpochReservation { get; set; }

    /// <summary>The run's merging: the current round's sum, the strategy at the close, the stored output. Used under its own gate, outside the scheduler's lock.</summary>
    public required RoundMerge Merge { get; init; }
    public double LossSum { get; set; }
    public long SamplesMerged { get; set; }

    /// <summary>
    /// Shards waiting for a lease, oldest first, so dispatch never scans a run's whole shard list. Entries may be stale
    /// (a shard since leased or done); dispatch skips any whose phase is no longer <see cref="ShardPhase.Queued"/>.
    /// Guarded by the scheduler's lock.
    /// </summary>
    public Queue<ShardState> Ready { get; } = new();

    /// <summary>Refills <see cref="Ready"/> from the current shards (a new round, a recovered run).</summary>
    public void ResetReady()
    {
        Ready.Clear();
        foreach (var shard in Shards)
        {
            if (shard.Phase == ShardPhase.Queued)
            {
                Ready.Enqueue(shard);
            }
        }
    }

    /// <summary>The next shard that is really waiting, or null; stale entries at the head are dropped.</summary>
    public ShardState? PeekReady()
    {
        while (Ready.TryPeek(out var shard))
        {
            if (shard.Phase == ShardPhase.Queued && ReferenceEquals(Shards[shard.Index], shard))
            {
                return shard;
            }

            Ready.Dequeue();
        }

        return null;
    }

    /// <summary>Whether any connected agent fits the run's resources, as of <see cref="FitsVersion"/> (the roster's membership version).</summary>
    public bool FitsAnyConnected { get; set; }
    public long FitsVersion { get; set; } = -1;

    public bool IsFinal => RunStates.IsFinal(Manifest.State);
    public RoundRecord CurrentRound => Manifest.Rounds[^1];

    /// <summary>Failed attempts tolerated per shard: the spec's, until a wrangler changed it (<see cref="RunManifest.Controls"/>).</summary>
    public int MaxRetries => Manifest.Controls?.MaxRetries ?? Spec.MaxRetries;

    /// <summary>Where dispatch serves the run: higher priority first, then in submission order.</summary>
    public DispatchOrder DispatchOrder => new(Manifest.Controls?.Priority ?? Spec.OpenCue?.Priority ?? 0, SubmitOrder);
}

/// <summary>The order dispatch walks live runs in: higher priority first, equal priorities in submission order.</summary>
/// <param name="Priority">The run's priority (OpenCue's; 0 unless a spec or a wrangler set one).</param>
/// <param name="SubmitOrder">The run's submission counter (unique).</param>
internal readonly record struct DispatchOrder(int Priority, long SubmitOrder) : IComparable<DispatchOrder>
{
    public int CompareTo(DispatchOrder other)
    {
        var byPriority = other.Priority.CompareTo(Priority);
        return byPriority != 0 ? byPriority : SubmitOrder.CompareTo(other.SubmitOrder);
    }
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

/// <summary>Counts of a round's shards by phase; each <see cref="ShardState"/> moves its own count as its phase changes.</summary>
internal sealed class ShardTally
{
    public int Queued { get; private set; }
    /// <summary>Leased or completing.</summary>
    public int Running { get; private set; }
    public int Done { get; private set; }

    internal void Move(ShardPhase? from, ShardPhase to)
    {
        if (from is { } f)
        {
            Add(f, -1);
        }

        Add(to, 1);
    }

    private void Add(ShardPhase phase, int n)
    {
        switch (phase)
        {
            case ShardPhase.Queued:
                Queued += n;
                break;
            case ShardPhase.Done:
                Done += n;
                break;
            default:
                Running += n;
                break;
        }
    }
}

/// <summary>One shard of the current round.</summary>
internal sealed class ShardState
{
    public required int Index { get; init; }

    /// <summary>The round's tally this shard counts in (the run's <see cref="RunState.Tally"/> when the shard was made).</summary>
    public required ShardTally Tally
    {
        get;
        init
        {
            field = value;
            value.Move(null, _phase);
        }
    }

    private ShardPhase _phase = ShardPhase.Queued;

    public ShardPhase Phase
    {
        get => _phase;
        set
        {
            Tally.Move(_phase, value);
            _phase = value;
        }
    }

    /// <summary>Fencing token: increases with every lease of this shard, across rounds.</summary>
    public long LeaseEpoch { get; set; }
    /// <summary>The attempt whose result the shard waits for; while one is being merged, the one completing.</summary>
    public Lease? Lease { get; set; }
    /// <summary>A second, speculative attempt of a straggling shard (round policy <c>straggler_after</c>); the first valid result wins.</summary>
    public Lease? Backup { get; set; }
    public int Attempts { get; set; }
    public int Failures { get; set; }
    public DateTimeOffset QueuedAt { get; set; }
    public string? ResultDigest { get; set; }

    /// <summary>True when <paramref name="lease"/> is one of this shard's live attempts.</summary>
    public bool Holds(Lease lease) => ReferenceEquals(Lease, lease) || ReferenceEquals(Backup, lease);

    /// <summary>Set when this is no shard but the lease slot of one of the run's tasks (<see cref="RunTask.Slot"/>).</summary>
    public RunTask? Task { get; init; }

    /// <summary>Checkpoint of this shard's latest preempted attempt (this round): its next lease resumes from it.</summary>
    public string? ResumeCheckpointDigest { get; set; }

    /// <summary>Dropped from this round by a wrangler (OpenCue's eat): its phase is <see cref="ShardPhase.Done"/> with no result.</summary>
    public bool Eaten { get; set; }
}

/// <summary>A run's pending store writes: the batch gathering changes, and whether a write is in flight.</summary>
internal sealed class JournalQueue
{
    internal JournalBatch? Open { get; set; }
    internal bool Writing { get; set; }

    /// <summary>The open batch as <see cref="TakeOpenForCatchUp"/> took it, for the writer to collect.</summary>
    internal JournalBatch? CaughtUp { get; set; }

    /// <summary>
    /// Moves the open batch to <see cref="CaughtUp"/>. The owner calls it under its own lock while it captures the
    /// manifest (<see cref="RunJournal.Latest"/>), so the capture and the events it implies are taken at one instant.
    /// </summary>
    internal void TakeOpenForCatchUp()
    {
        lock (this)
        {
            CaughtUp = Open;
            Open = null;
        }
    }

    /// <summary>
    /// Set once a manifest of the run has landed in the store: from then on a restarted coordinator recovers it, so a
    /// submission is acknowledged only after this (events alone, without a manifest, recover nothing).
    /// </summary>
    internal TaskCompletionSource Stored { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Changes written to the store together: their events in order, index entries, and the manifest version they reach.</summary>
internal sealed class JournalBatch
{
    public List<LineageEvent> Events { get; } = new();
    public List<LineageIndexEntry> Index { get; } = new();
    /// <summary>Lease epochs to reserve (floor 0) before the batch's other writes; 0: none.</summary>
    public int ReserveEpochs { get; set; }
    public long Version { get; set; }
    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
