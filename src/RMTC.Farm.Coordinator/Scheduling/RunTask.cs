using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// One of a run's training-side tasks that is not a shard: its preparation (initial weights) or a round's evaluation.
/// It is leased like a shard through <see cref="Slot"/>, a shard state of its own outside the run's shards, so the same
/// lease, epoch, expiry and retry machinery serves it. Guarded by the scheduler's lock.
/// </summary>
internal sealed class RunTask
{
    public RunTask(string kind, int round, string? input, long inputBytes, TaskRecord record, long epochFloor)
    {
        Kind = kind;
        Round = round;
        InputDigest = input;
        InputBytes = inputBytes;
        Record = record;
        // A tally of its own: the run's shard counts (status, dispatch) never include its tasks.
        Slot = new ShardState { Index = -1, Task = this, LeaseEpoch = epochFloor, Tally = new ShardTally() };
    }

    /// <summary><see cref="TaskKinds.Prepare"/> or <see cref="TaskKinds.Evaluate"/>.</summary>
    public string Kind { get; }
    /// <summary>The round evaluated (0: the preparation).</summary>
    public int Round { get; }
    /// <summary>The weights it reads (the round's merged weights); null for the preparation.</summary>
    public string? InputDigest { get; }
    /// <summary>Size of the <see cref="InputDigest"/> file (sent with the assignment, as for a shard's global weights).</summary>
    public long InputBytes { get; }
    /// <summary>Its record in the run's manifest (attempts, outcome).</summary>
    public TaskRecord Record { get; }
    /// <summary>The lease slot: phase, live lease, epochs, attempts and failures, as for a shard.</summary>
    public ShardState Slot { get; }

    /// <summary>How events and logs name it, e.g. <c>round 2 evaluation</c>.</summary>
    public string Name => Kind == TaskKinds.Prepare ? "preparation" : $"round {Round} evaluation";

    /// <summary>The lease id of its attempt at <paramref name="epoch"/>: distinct from every shard's.</summary>
    public string LeaseId(RunState run, long epoch) =>
        Kind == TaskKinds.Prepare ? $"{run.Id}/prepare/e{epoch}" : $"{run.Id}/r{Round}/eval/e{epoch}";
}
