using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// The farm's durable memory: run manifests (also the live state a restarted coordinator recovers from), each run's
/// hash-chained event log, and reverse indexes for lineage queries. The embedded file store is the default for one
/// machine; the Redis store is the farm's. Both pass the same contract tests.
/// </summary>
public interface IRunStore
{
    /// <summary>Saves a manifest; <paramref name="version"/> increases with every change so a late writer never overwrites a newer state.</summary>
    Task SaveAsync(RunManifest manifest, long version, CancellationToken cancellationToken = default);

    /// <summary>
    /// Saves a manifest already serialised by <see cref="RunManifest.ToJson"/>, whole (the journal's write of an ended run);
    /// same versioning as <see cref="SaveAsync(RunManifest, long, CancellationToken)"/>. A whole document replaces any parts
    /// the run had (<see cref="SavePartsAsync"/>).
    /// </summary>
    Task SaveAsync(string runId, string manifestJson, long version, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes a manifest in parts (<see cref="ManifestPartKeys"/>): only what changed since the write named by
    /// <see cref="ManifestParts.Base"/>, or, with no base, every part (replacing whatever the store held for the run, a
    /// whole document included). The write lands whole or not at all; a lower or equal version never overwrites.
    /// <see cref="GetAsync"/> and <see cref="ListAsync"/> assemble the same manifest from parts as from a whole document.
    /// </summary>
    /// <param name="runId">The run.</param>
    /// <param name="parts">The version, its base, and the parts written and removed.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether the parts landed; <see cref="ManifestWriteResult.BaseMissing"/> asks for a write without base.</returns>
    Task<ManifestWriteResult> SavePartsAsync(string runId, ManifestParts parts, CancellationToken cancellationToken = default);

    /// <summary>The stored manifest of a run, or null.</summary>
    Task<RunManifest?> GetAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>Every stored manifest.</summary>
    Task<IReadOnlyList<RunManifest>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Appends already-chained events to the run's log, in order (the caller keeps the chain).</summary>
    Task AppendEventsAsync(string runId, IReadOnlyList<LineageEvent> events, CancellationToken cancellationToken = default);

    /// <summary>The run's whole event log, in order (empty when none).</summary>
    Task<IReadOnlyList<LineageEvent>> ReadEventsAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>Adds reverse-index entries: <c>(kind, digest) → runId</c>. Idempotent.</summary>
    Task IndexAsync(IReadOnlyList<LineageIndexEntry> entries, CancellationToken cancellationToken = default);

    /// <summary>Run ids indexed under <paramref name="kind"/> and <paramref name="digest"/>, sorted ordinal.</summary>
    Task<IReadOnlyList<string>> LookupAsync(string kind, string digest, CancellationToken cancellationToken = default);

    /// <summary>Drops every reverse-index entry (before a rebuild from manifests).</summary>
    Task ClearIndexAsync(CancellationToken cancellationToken = default);

    /// <summary>Appends an export or inference record to the run's derivations (beside its sealed manifest, which stays as sealed).</summary>
    Task AppendDerivationAsync(string runId, DerivationRecord record, CancellationToken cancellationToken = default);

    /// <summary>The run's derivation records, oldest first (empty when none).</summary>
    Task<IReadOnlyList<DerivationRecord>> ReadDerivationsAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reserves lease epochs of a run, atomically and durably, before any of them is granted: the stored reservation
    /// rises to <c>max(stored, floor) + count</c>, and the returned block is the caller's. Epochs are never taken back,
    /// so a coordinator that restarts on the same store starts above everything an earlier one may have granted, even
    /// grants whose record the crash lost.
    /// </summary>
    /// <param name="runId">The run.</param>
    /// <param name="floor">Epochs the caller knows to be in use already (the highest recorded one); the block starts above it.</param>
    /// <param name="count">How many epochs to reserve (at least 1).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task<LeaseEpochBlock> ReserveLeaseEpochsAsync(string runId, long floor, int count, CancellationToken cancellationToken = default);
}

/// <summary>
/// Lease epochs reserved by <see cref="IRunStore.ReserveLeaseEpochsAsync"/>: epochs above <see cref="After"/> up to
/// <see cref="Through"/> belong to the caller; no reservation before reached above <see cref="After"/>.
/// </summary>
public sealed record LeaseEpochBlock(long After, long Through)
{
    /// <summary>The largest epoch a store hands out: 2^52, exact in a double (Redis scripts, JavaScript readers).</summary>
    public const long MaxEpoch = 1L << 52;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for arguments no store accepts.</summary>
    internal static void CheckRequest(long floor, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(floor);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(floor, MaxEpoch - count);
    }
}

/// <summary>One reverse-index entry: the run <see cref="RunId"/> involves <see cref="Digest"/> as <see cref="Kind"/>.</summary>
public sealed record LineageIndexEntry(string Kind, string Digest, string RunId);

/// <summary>What a digest is to a run, in the reverse indexes.</summary>
public static class LineageIndexKinds
{
    /// <summary>The dataset's root digest.</summary>
    public const string Dataset = "dataset";
    /// <summary>One asset (sample file) of a dataset the run trained on.</summary>
    public const string Asset = "asset";
    /// <summary>Weights the run produced (round outputs, the final model) or consumed (initial weights, base weights).</summary>
    public const string Weights = "weights";
    /// <summary>The run's final model.</summary>
    public const string Model = "model";
    /// <summary>A file derived from the run's model: an export (ONNX), or an inference's input or output.</summary>
    public const string Derived = "derived";
    /// <summary>The run's own code: the TorchScript model file it trained.</summary>
    public const string Code = "code";
}
