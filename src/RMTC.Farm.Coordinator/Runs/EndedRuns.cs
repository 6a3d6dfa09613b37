using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// The runs that have ended, as <see cref="EndedRun"/> summaries, and their manifests read from the store on demand.
/// A studio's history is thousands of ended runs: holding each one's rounds and attempts cost about 64 KiB a run, while
/// a manifest is asked for one run at a time (a run's page, an export, a lineage answer) and an ended run's manifest is
/// one document in both stores, so it is read back in a single call. The last few read are kept, as JSON, in a small
/// least-recently-used cache: a page a supervisor keeps open reads no file.
/// </summary>
/// <remarks>
/// The runs themselves are guarded by the scheduler's lock (every caller holds it); the cache has its own lock, since
/// manifests are read outside the scheduler's lock.
/// </remarks>
/// <param name="store">Where ended runs' manifests and event logs are read from.</param>
/// <param name="cached">How many manifests the cache keeps.</param>
internal sealed class EndedRuns(IRunStore store, int cached = EndedRuns.DefaultCached)
{
    /// <summary>Manifests kept in the cache by default.</summary>
    public const int DefaultCached = 32;

    private readonly Dictionary<string, EndedRun> _runs = new(StringComparer.Ordinal);
    private readonly object _cacheGate = new();
    private readonly Dictionary<string, LinkedListNode<(string RunId, string Json)>> _cache = new(StringComparer.Ordinal);
    private readonly LinkedList<(string RunId, string Json)> _recent = new();

    /// <summary>Every ended run (unordered).</summary>
    public IReadOnlyCollection<EndedRun> All => _runs.Values;

    public int Count => _runs.Count;

    /// <summary>Adds an ended run, replacing a live run's entry of the same id in the caller's books.</summary>
    public void Add(EndedRun run) => _runs[run.Id] = run;

    public bool TryGet(string runId, out EndedRun run) => _runs.TryGetValue(runId, out run!);

    /// <summary>Ended runs whose id starts with <paramref name="prefix"/>, at most <paramref name="most"/>.</summary>
    public IEnumerable<EndedRun> WithPrefix(string prefix, int most) =>
        _runs.Values.Where(r => r.Id.StartsWith(prefix, StringComparison.Ordinal)).Take(most);

    /// <summary>Reads the event log of an ended run (what a watcher replays).</summary>
    public Task<IReadOnlyList<LineageEvent>> ReadEventsAsync(string runId, CancellationToken cancellationToken) =>
        store.ReadEventsAsync(runId, cancellationToken);

    /// <summary>
    /// The stored manifest of an ended run, a copy the caller may change; null when the store has none (it was removed
    /// behind the coordinator's back).
    /// </summary>
    public async Task<RunManifest?> ManifestAsync(string runId, CancellationToken cancellationToken)
    {
        lock (_cacheGate)
        {
            if (_cache.TryGetValue(runId, out var node))
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                return RunManifest.FromJson(node.Value.Json);
            }
        }

        var manifest = await store.GetAsync(runId, cancellationToken).ConfigureAwait(false);
        if (manifest is not null)
        {
            Remember(runId, manifest.ToJson());
        }

        return manifest;
    }

    /// <summary>Keeps <paramref name="json"/> as the manifest of <paramref name="runId"/>, dropping the least recently read past the bound.</summary>
    public void Remember(string runId, string json)
    {
        lock (_cacheGate)
        {
            if (_cache.Remove(runId, out var old))
            {
                _recent.Remove(old);
            }

            _cache[runId] = _recent.AddFirst((runId, json));
            while (_recent.Count > cached)
            {
                _cache.Remove(_recent.Last!.Value.RunId);
                _recent.RemoveLast();
            }
        }
    }
}
