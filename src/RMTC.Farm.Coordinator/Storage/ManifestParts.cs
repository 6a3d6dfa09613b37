namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// One write of a run's manifest in parts (<see cref="IRunStore.SavePartsAsync"/>): the parts that changed since the
/// writer's previous write, each a JSON document under a key of <see cref="ManifestPartKeys"/>, and the keys that no
/// longer exist. A store lands a write whole or not at all.
/// </summary>
public sealed class ManifestParts
{
    /// <summary>The manifest's version after this write; a store never lets a lower or equal version overwrite.</summary>
    public required long Version { get; init; }

    /// <summary>
    /// The version this write builds on: the store must hold exactly it, else it refuses with
    /// <see cref="ManifestWriteResult.BaseMissing"/>. Null: the parts are the whole manifest and replace whatever the
    /// store held for the run (a whole document included).
    /// </summary>
    public long? Base { get; init; }

    /// <summary>Parts written, by key; each value is the part's JSON (<see cref="ManifestPartJson"/>).</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Written { get; init; }

    /// <summary>Keys of parts that no longer exist (a list that became shorter).</summary>
    public IReadOnlyList<string> Removed { get; init; } = [];

    /// <summary>UTF-16 characters of the keys and values written: what the write costs, for logs and measurements.</summary>
    public long Characters => Written.Sum(p => (long)p.Key.Length + p.Value.Length) + Removed.Sum(k => (long)k.Length);
}

/// <summary>How a <see cref="IRunStore.SavePartsAsync"/> ended.</summary>
public enum ManifestWriteResult
{
    /// <summary>Nothing was written (the store refused the data as malformed); the next write must be whole.</summary>
    NotWritten = 0,

    /// <summary>The parts landed (or an earlier try of this very write had landed: the store holds this version).</summary>
    Written,

    /// <summary>The store holds a newer version: nothing was written.</summary>
    Stale,

    /// <summary>The store does not hold the write's <see cref="ManifestParts.Base"/>: nothing was written; write the manifest whole.</summary>
    BaseMissing,
}
