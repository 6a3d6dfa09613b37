using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// The embedded store, for one machine. Under the data directory:
/// <list type="bullet">
/// <item><c>runs/&lt;id&gt;/run.json</c>: the manifest written whole (an ended run, or one written before parts), replaced
/// atomically (write temp + rename), so a crash leaves either the old or the new manifest, never half of one.</item>
/// <item><c>runs/&lt;id&gt;/version</c>: <c>{"version":N}</c>, the version of that manifest.</item>
/// <item><c>runs/&lt;id&gt;/run.parts.jsonl</c>: the manifest of a live run in parts, one line per write of what changed
/// (<see cref="ManifestPartsLog"/>), rewritten as one line when it has grown to twice its compacted size; it replaces
/// <c>run.json</c> while the run lives, and a whole write replaces it.</item>
/// <item><c>runs/&lt;id&gt;/events.jsonl</c>: the event log, one <see cref="LineageEvent.ToJson"/> per line.</item>
/// <item><c>runs/&lt;id&gt;/epochs</c>: <c>{"through":N}</c>, the highest lease epoch reserved (<see cref="ReserveLeaseEpochsAsync"/>), fsynced.</item>
/// <item><c>runs/&lt;id&gt;/derivations.jsonl</c>: exports and inferences of the run's model, one <see cref="DerivationRecord.ToJson"/> per line.</item>
/// <item><c>index/&lt;kind&gt;/&lt;digest&gt;</c>: run ids, one per line.</item>
/// </list>
/// </summary>
/// <remarks>
/// Versions are compared with the stored one, not with what this instance wrote, so the rule "a lower or equal
/// version never overwrites" holds across coordinator restarts: a restarted coordinator must number above every
/// stored version (it uses <see cref="DateTimeOffset.UtcTicks"/>-based versions), otherwise its saves are skipped.
/// One store instance owns a data directory: writes of one run are serialised in memory, not across processes.
/// </remarks>
public sealed class FileRunStore : IRunStore
{
    private const string ManifestFile = "run.json";
    private const string VersionFile = "version";
    private const string EventsFile = "events.jsonl";
    private const string DerivationsFile = "derivations.jsonl";
    private const string EpochsFile = "epochs";
    private const string PartsFile = "run.parts.jsonl";

    // A parts log is compacted once it holds this much more than twice its last compacted size.
    private const long CompactSlackBytes = 256 * 1024;

    // The parts log of each run as this store last wrote or read it (writes of one run are serialised by its gate).
    private readonly ConcurrentDictionary<string, PartsLogState> _partsLogs = new(StringComparer.Ordinal);

    // Entries in each run's log, known after its first append (writes of one run are serialised by its gate).
    private readonly ConcurrentDictionary<string, long> _eventCounts = new(StringComparer.Ordinal);

    private readonly string _root;
    private readonly string _index;
    private readonly SemaphoreSlim _indexGate = new(1, 1);
    // One gate per run: a manifest save and event appends of the same run never interleave.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);

    public FileRunStore(IOptions<CoordinatorOptions> options)
    {
        var data = Path.GetFullPath(options.Value.DataDirectory);
        _root = Path.Combine(data, "runs");
        _index = Path.Combine(data, "index");
        Directory.CreateDirectory(_root);
    }

    /// <summary>
    /// Writes the manifest unless the stored version is greater than or equal to <paramref name="version"/>
    /// (then the call does nothing: a newer state is already there).
    /// </summary>
    public Task SaveAsync(RunManifest manifest, long version, CancellationToken cancellationToken = default) =>
        SaveAsync(manifest.RunId, manifest.ToJson(), version, cancellationToken);

    /// <inheritdoc />
    public async Task SaveAsync(string runId, string manifestJson, long version, CancellationToken cancellationToken = default)
    {
        var dir = RunDirectory(runId);
        var json = manifestJson;
        var gate = GateOf(runId);
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (await StoredVersionAsync(runId, dir, cancellationToken) is { } stored && version <= stored)
            {
                return;
            }

            Directory.CreateDirectory(dir);
            // Manifest first, then its version: a crash between leaves the version behind the manifest, which only
            // lets a restarted coordinator (whose versions are larger anyway) write, never a stale writer win later.
            await ReplaceAsync(Path.Combine(dir, ManifestFile), json, cancellationToken);
            await ReplaceAsync(Path.Combine(dir, VersionFile), VersionJson(version), cancellationToken);
            // Then the parts go: until they do, readers pick the higher version, which is this document's.
            File.Delete(Path.Combine(dir, PartsFile));
            _partsLogs.TryRemove(runId, out _);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<ManifestWriteResult> SavePartsAsync(string runId, ManifestParts parts, CancellationToken cancellationToken = default)
    {
        var dir = RunDirectory(runId);
        var path = Path.Combine(dir, PartsFile);
        var gate = GateOf(runId);
        await gate.WaitAsync(cancellationToken);
        try
        {
            var log = await PartsLogOfAsync(runId, path, cancellationToken);
            var whole = await WholeVersionAsync(dir, cancellationToken);
            if (log?.Version == parts.Version)
            {
                // A retry of a write that landed.
                return ManifestWriteResult.Written;
            }

            var stored = log is null ? whole : whole is null ? log.Version : Math.Max(log.Version, whole.Value);
            if (stored is { } newest && parts.Version <= newest)
            {
                return ManifestWriteResult.Stale;
            }

            var line = ManifestPartsLog.Line(parts);
            if (parts.Base is null)
            {
                Directory.CreateDirectory(dir);
                await ReplaceAsync(path, line, cancellationToken);
                _partsLogs[runId] = new PartsLogState(parts.Version, line.Length, line.Length);
                // The parts hold a newer version than any whole document, which is dropped (readers compare versions
                // until it is gone).
                File.Delete(Path.Combine(dir, ManifestFile));
                File.Delete(Path.Combine(dir, VersionFile));
                return ManifestWriteResult.Written;
            }

            if (log is null || log.Version != parts.Base || (whole is { } w && w > log.Version))
            {
                return ManifestWriteResult.BaseMissing;
            }

            await AppendLinesAsync(path, line, cancellationToken);
            var grown = log with { Version = parts.Version, Bytes = log.Bytes + line.Length };
            _partsLogs[runId] = grown.Bytes > (2 * grown.CompactBytes) + CompactSlackBytes ? await CompactAsync(runId, path, cancellationToken) : grown;
            return ManifestWriteResult.Written;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The stored manifest, or null (also for an id no run can have, e.g. with a path separator).</summary>
    public Task<RunManifest?> GetAsync(string runId, CancellationToken cancellationToken = default) =>
        IsRunId(runId) ? ReadManifestAsync(Path.Combine(_root, runId), cancellationToken) : Task.FromResult<RunManifest?>(null);

    /// <summary>Every stored manifest, ordered by run id (ordinal).</summary>
    public async Task<IReadOnlyList<RunManifest>> ListAsync(CancellationToken cancellationToken = default)
    {
        var result = new List<RunManifest>();
        foreach (var dir in Directory.EnumerateDirectories(_root).Order(StringComparer.Ordinal))
        {
            // A run whose events landed before its first manifest has no manifest yet: not a run to list.
            if (await ReadManifestAsync(dir, cancellationToken) is { } manifest)
            {
                result.Add(manifest);
            }
        }

        return result;
    }

    /// <summary>
    /// The manifest in <paramref name="dir"/>: its parts assembled or its whole document, whichever has the higher version
    /// (both exist only for a moment, while one replaces the other); null when neither exists.
    /// </summary>
    private static async Task<RunManifest?> ReadManifestAsync(string dir, CancellationToken cancellationToken)
    {
        var partsPath = Path.Combine(dir, PartsFile);
        var wholePath = Path.Combine(dir, ManifestFile);
        if (await ManifestPartsLog.ReadAsync(partsPath, cancellationToken) is { } log
            && (!File.Exists(wholePath) || await WholeVersionAsync(dir, cancellationToken) is not { } whole || whole < log.Version))
        {
            return ManifestAssembly.Assemble(log.Parts, partsPath);
        }

        try
        {
            return ParseManifest(wholePath, await File.ReadAllTextAsync(wholePath, cancellationToken));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // No manifest, or its parts replaced it since the check above: read them.
            return await ManifestPartsLog.ReadAsync(partsPath, cancellationToken) is { } parts ? ManifestAssembly.Assemble(parts.Parts, partsPath) : null;
        }
    }

    /// <summary>The run's parts log as last written or read (read once per run and store). Caller holds the run's gate.</summary>
    private async Task<PartsLogState?> PartsLogOfAsync(string runId, string path, CancellationToken cancellationToken)
    {
        if (_partsLogs.TryGetValue(runId, out var known))
        {
            return known;
        }

        if (await ManifestPartsLog.ReadAsync(path, cancellationToken) is not { } log)
        {
            return null;
        }

        // Compaction measures growth from here: a log found bigger than its content is compacted at the next write.
        var state = new PartsLogState(log.Version, log.Bytes, log.Bytes / 2);
        _partsLogs[runId] = state;
        return state;
    }

    /// <summary>Rewrites the parts log as one line holding every part, via temp + rename. Caller holds the run's gate.</summary>
    private static async Task<PartsLogState> CompactAsync(string runId, string path, CancellationToken cancellationToken)
    {
        var log = await ManifestPartsLog.ReadAsync(path, cancellationToken)
            ?? throw new InvalidDataException($"the parts log of run {runId} ({path}) vanished while it was being written");
        var line = ManifestPartsLog.Compacted(log.Version, log.Parts);
        await ReplaceAsync(path, line, cancellationToken);
        return new PartsLogState(log.Version, line.Length, line.Length);
    }

    public async Task AppendEventsAsync(string runId, IReadOnlyList<LineageEvent> events, CancellationToken cancellationToken = default)
    {
        var dir = RunDirectory(runId);
        if (events.Count == 0)
        {
            return;
        }

        var gate = GateOf(runId);
        await gate.WaitAsync(cancellationToken);
        try
        {
            Directory.CreateDirectory(dir);
            // Entries are placed by sequence number, as in Redis: a retried batch adds nothing twice, a gap is refused.
            if (!_eventCounts.TryGetValue(runId, out var held))
            {
                held = (await ReadEventsAsync(runId, cancellationToken)).Count;
            }

            if (events[0].Seq > held + 1)
            {
                throw new InvalidDataException($"the event log of run {runId} holds {held} entries but the next batch starts at {events[0].Seq} (lost writes)");
            }

            var fresh = events.Where(e => e.Seq > held).ToList();
            if (fresh.Count > 0)
            {
                var bytes = Encoding.UTF8.GetBytes(string.Concat(fresh.Select(e => e.ToJson() + "\n")));
                await AppendLinesAsync(Path.Combine(dir, EventsFile), bytes, cancellationToken);
                held = fresh[^1].Seq;
            }

            _eventCounts[runId] = held;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// The run's events in order. A torn last line (a crash mid-append) is ignored; any other unreadable line throws
    /// <see cref="InvalidDataException"/>, because skipping it would hide a damaged or edited log.
    /// </summary>
    public async Task<IReadOnlyList<LineageEvent>> ReadEventsAsync(string runId, CancellationToken cancellationToken = default)
    {
        if (!IsRunId(runId))
        {
            return [];
        }

        var path = Path.Combine(_root, runId, EventsFile);
        if (!File.Exists(path))
        {
            return [];
        }

        string text;
        // ReadWrite sharing: an append may be in progress; its bytes past what we read are simply not seen yet.
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(file, Encoding.UTF8))
        {
            text = await reader.ReadToEndAsync(cancellationToken);
        }

        var lines = text.Split('\n');
        var events = new List<LineageEvent>(lines.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }

            try
            {
                events.Add(LineageEvent.FromJson(lines[i]));
            }
            catch (JsonException e)
            {
                // Only the last line can be torn: every complete append ends with a newline.
                if (i == lines.Length - 1)
                {
                    break;
                }

                throw new InvalidDataException($"run {runId}: line {i + 1} of {path} is not a lineage event ({e.Message}); the log is damaged", e);
            }
        }

        return events;
    }

    public async Task IndexAsync(IReadOnlyList<LineageIndexEntry> entries, CancellationToken cancellationToken = default)
    {
        var groups = entries.GroupBy(e => IndexPath(e.Kind, e.Digest), StringComparer.Ordinal).ToList();
        foreach (var e in entries)
        {
            RunDirectory(e.RunId);
        }

        // One gate for the whole index: two runs indexing the same digest must not both append the same id.
        await _indexGate.WaitAsync(cancellationToken);
        try
        {
            foreach (var group in groups)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(group.Key)!);
                var existing = await ReadIdsAsync(group.Key, cancellationToken);
                var added = group.Select(e => e.RunId).Where(existing.Add).ToList();
                if (added.Count > 0)
                {
                    await AppendLinesAsync(group.Key, Encoding.UTF8.GetBytes(string.Concat(added.Select(id => id + "\n"))), cancellationToken);
                }
            }
        }
        finally
        {
            _indexGate.Release();
        }
    }

    public async Task<IReadOnlyList<string>> LookupAsync(string kind, string digest, CancellationToken cancellationToken = default)
    {
        var path = IndexPath(kind, digest);
        await _indexGate.WaitAsync(cancellationToken);
        try
        {
            return (await ReadIdsAsync(path, cancellationToken)).Order(StringComparer.Ordinal).ToList();
        }
        finally
        {
            _indexGate.Release();
        }
    }

    public async Task ClearIndexAsync(CancellationToken cancellationToken = default)
    {
        await _indexGate.WaitAsync(cancellationToken);
        try
        {
            if (Directory.Exists(_index))
            {
                Directory.Delete(_index, recursive: true);
            }
        }
        finally
        {
            _indexGate.Release();
        }
    }

    public async Task AppendDerivationAsync(string runId, DerivationRecord record, CancellationToken cancellationToken = default)
    {
        var dir = RunDirectory(runId);
        var gate = GateOf(runId);
        await gate.WaitAsync(cancellationToken);
        try
        {
            Directory.CreateDirectory(dir);
            await AppendLinesAsync(Path.Combine(dir, DerivationsFile), Encoding.UTF8.GetBytes(record.ToJson() + "\n"), cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The run's derivations in order; a torn last line is ignored, any other unreadable line throws <see cref="InvalidDataException"/>.</summary>
    public async Task<IReadOnlyList<DerivationRecord>> ReadDerivationsAsync(string runId, CancellationToken cancellationToken = default)
    {
        var path = IsRunId(runId) ? Path.Combine(_root, runId, DerivationsFile) : null;
        if (path is null || !File.Exists(path))
        {
            return [];
        }

        var lines = (await File.ReadAllTextAsync(path, cancellationToken)).Split('\n');
        var records = new List<DerivationRecord>();
        // Everything before the last newline is complete; what follows it (normally nothing) is a torn write.
        for (var i = 0; i < lines.Length - 1; i++)
        {
            try
            {
                records.Add(DerivationRecord.FromJson(lines[i]));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"run {runId}: line {i + 1} of {path} is not a derivation record ({e.Message})", e);
            }
        }

        return records;
    }

    /// <summary>
    /// Under the run's gate: read, raise, and replace the file with a copy flushed to disk before the rename, so the
    /// reservation outlives a crash of the coordinator. Rare (one call per block of epochs), so the flush is cheap.
    /// </summary>
    public async Task<LeaseEpochBlock> ReserveLeaseEpochsAsync(string runId, long floor, int count, CancellationToken cancellationToken = default)
    {
        LeaseEpochBlock.CheckRequest(floor, count);
        var dir = RunDirectory(runId);
        var path = Path.Combine(dir, EpochsFile);
        var gate = GateOf(runId);
        await gate.WaitAsync(cancellationToken);
        try
        {
            long stored = 0;
            if (File.Exists(path))
            {
                var text = await File.ReadAllTextAsync(path, cancellationToken);
                try
                {
                    using var doc = JsonDocument.Parse(text);
                    stored = doc.RootElement.GetProperty("through").GetInt64();
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
                {
                    throw new InvalidDataException($"{path} should hold {{\"through\":N}} but holds '{text}'", e);
                }
            }

            var after = Math.Max(stored, floor);
            var block = new LeaseEpochBlock(after, after + count);
            Directory.CreateDirectory(dir);
            var temp = $"{path}.{Guid.NewGuid():N}.tmp";
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                await file.WriteAsync(Encoding.UTF8.GetBytes("{\"through\":" + block.Through.ToString(CultureInfo.InvariantCulture) + "}"), cancellationToken);
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
            return block;
        }
        finally
        {
            gate.Release();
        }
    }

    private SemaphoreSlim GateOf(string runId) => _gates.GetOrAdd(runId, _ => new SemaphoreSlim(1, 1));

    /// <summary>The highest version stored for the run, whole or in parts; null when none is.</summary>
    private async Task<long?> StoredVersionAsync(string runId, string dir, CancellationToken cancellationToken)
    {
        var whole = await WholeVersionAsync(dir, cancellationToken);
        return await PartsLogOfAsync(runId, Path.Combine(dir, PartsFile), cancellationToken) is { } log && (whole is null || log.Version > whole) ? log.Version : whole;
    }

    private static async Task<long?> WholeVersionAsync(string dir, CancellationToken cancellationToken)
    {
        var path = Path.Combine(dir, VersionFile);
        if (!File.Exists(path))
        {
            return null;
        }

        var text = await File.ReadAllTextAsync(path, cancellationToken);
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.GetProperty("version").GetInt64();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path} should hold {{\"version\":N}} but holds '{text}'", e);
        }
    }

    private static string VersionJson(long version) => "{\"version\":" + version.ToString(CultureInfo.InvariantCulture) + "}";

    private static async Task ReplaceAsync(string path, string text, CancellationToken cancellationToken)
    {
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllTextAsync(temp, text, cancellationToken);
        File.Move(temp, path, overwrite: true);
    }

    private static async Task ReplaceAsync(string path, byte[] bytes, CancellationToken cancellationToken)
    {
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllBytesAsync(temp, bytes, cancellationToken);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Appends complete lines, after cutting any torn line a crash left, and flushes.</summary>
    private static async Task AppendLinesAsync(string path, byte[] lines, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        await DropTornTailAsync(file, cancellationToken);
        file.Seek(0, SeekOrigin.End);
        await file.WriteAsync(lines, cancellationToken);
        await file.FlushAsync(cancellationToken);
    }

    /// <summary>Cuts a partial last line left by a crash mid-append, so the next append does not glue onto it.</summary>
    private static async Task DropTornTailAsync(FileStream file, CancellationToken cancellationToken)
    {
        if (file.Length == 0)
        {
            return;
        }

        var one = new byte[1];
        file.Seek(-1, SeekOrigin.End);
        await file.ReadExactlyAsync(one, cancellationToken);
        if (one[0] == (byte)'\n')
        {
            return;
        }

        // Walk back to the previous newline; lines are small, so read backwards in modest blocks.
        var end = file.Length;
        var buffer = new byte[4096];
        while (end > 0)
        {
            var start = Math.Max(0, end - buffer.Length);
            file.Seek(start, SeekOrigin.Begin);
            var count = (int)(end - start);
            await file.ReadExactlyAsync(buffer.AsMemory(0, count), cancellationToken);
            var newline = Array.LastIndexOf(buffer, (byte)'\n', count - 1, count);
            if (newline >= 0)
            {
                file.SetLength(start + newline + 1);
                return;
            }

            end = start;
        }

        file.SetLength(0);
    }

    /// <summary>The ids of an index file; a torn last line (crash mid-append) is ignored, so its id gets indexed again.</summary>
    private static async Task<HashSet<string>> ReadIdsAsync(string path, CancellationToken cancellationToken)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return ids;
        }

        var lines = (await File.ReadAllTextAsync(path, cancellationToken)).Split('\n');
        // Everything before the last newline is complete; what follows it (normally nothing) is a torn write.
        foreach (var line in lines.AsSpan(0, lines.Length - 1))
        {
            if (line.Length > 0)
            {
                ids.Add(line);
            }
        }

        return ids;
    }

    private static RunManifest ParseManifest(string path, string json)
    {
        try
        {
            return RunManifest.FromJson(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a run manifest: {e.Message}", e);
        }
    }

    /// <summary>Run ids are file names here: the characters a job name allows, never "." or "..".</summary>
    internal static bool IsRunId(string runId) =>
        runId.Length is > 0 and <= 200 && runId is not ("." or "..") && runId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private string RunDirectory(string runId) =>
        IsRunId(runId)
            ? Path.Combine(_root, runId)
            : throw new ArgumentException($"'{runId}' is not a run id (letters, digits, '.', '-', '_'; at most 200)", nameof(runId));

    private string IndexPath(string kind, string digest)
    {
        if (!IsIndexKind(kind) || !Sha256Digest.IsValid(digest))
        {
            throw new ArgumentException($"index key '{kind}:{digest}' must be a kind of lowercase letters and '-' and a sha256 digest (64 lowercase hex)");
        }

        return Path.Combine(_index, kind, digest);
    }

    internal static bool IsIndexKind(string kind) => kind.Length is > 0 and <= 64 && kind.All(c => c is (>= 'a' and <= 'z') or '-');

    /// <summary>A run's parts log: the version of its last line, its bytes, and its bytes when last compacted.</summary>
    private sealed record PartsLogState(long Version, long Bytes, long CompactBytes);
}
