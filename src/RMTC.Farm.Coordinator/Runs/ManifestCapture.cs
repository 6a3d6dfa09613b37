using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// What one manifest write carries, taken under the scheduler's lock by <see cref="ManifestTracker.Capture"/>: the
/// small parts already serialised, the changed shard and attempt records as copies to serialise after the lock is
/// released (<see cref="ToParts"/>), or, for an ended run, the whole document.
/// </summary>
internal sealed class ManifestCapture
{
    private readonly Dictionary<string, object> _parts = new(StringComparer.Ordinal);
    private readonly List<string> _removed = [];

    public ManifestCapture(long version, long? @base)
    {
        Version = version;
        Base = @base;
    }

    /// <summary>The manifest's version this write stores.</summary>
    public long Version { get; }

    /// <summary>The version the parts build on; null when they are every part.</summary>
    public long? Base { get; }

    /// <summary>Set for an ended run: the whole document, written instead of parts.</summary>
    public string? Whole { get; init; }

    /// <summary>The whole document as of the capture, when the journal checks what the store assembles (tests).</summary>
    public string? Expected { get; init; }

    public void Serialised(string key, string json) => _parts[key] = json;

    public void Record(string key, ShardRecord copy) => _parts[key] = copy;

    public void Record(string key, AttemptRecord copy) => _parts[key] = copy;

    public void Removed(string key)
    {
        _parts.Remove(key);
        _removed.Add(key);
    }

    /// <summary>Serialises the copied records; called off the scheduler's lock.</summary>
    public ManifestParts ToParts() => new()
    {
        Version = Version,
        Base = Base,
        Removed = _removed,
        Written = _parts.Select(p => new KeyValuePair<string, string>(p.Key, p.Value switch
        {
            string json => json,
            ShardRecord shard => ManifestPartJson.Shard(shard),
            AttemptRecord attempt => ManifestPartJson.Attempt(attempt),
            _ => throw new InvalidOperationException($"manifest part {p.Key} holds a {p.Value.GetType().Name}"),
        })).ToList(),
    };
}

/// <summary>
/// Takes a run's <see cref="ManifestCapture"/> under the scheduler's lock when its write comes up; null when the run
/// changed after <paramref name="version"/> (the batch holding that newer change writes the manifest).
/// </summary>
/// <param name="run">The run.</param>
/// <param name="version">
/// The version the write stores; or <see cref="RunJournal.Latest"/>: the run as it stands, with the journal's open batch
/// (every change not yet written) taken under the same lock (<see cref="JournalQueue.TakeOpenForCatchUp"/>).
/// </param>
/// <param name="whole">Every part (the store lost the base of the run's parts).</param>
/// <param name="expect">Also serialise the whole document, for the journal to compare with what the store assembles.</param>
internal delegate ManifestCapture? ManifestSnapshot(RunState run, long version, bool whole, bool expect);
