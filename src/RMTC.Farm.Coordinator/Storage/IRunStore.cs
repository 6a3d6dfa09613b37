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
}
