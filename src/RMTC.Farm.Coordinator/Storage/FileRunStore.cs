using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// The embedded store: one <c>runs/&lt;id&gt;/run.json</c> per run under the data directory, replaced atomically
/// (write temp + rename), so a crash leaves either the old or the new manifest, never half of one.
/// </summary>
public sealed class FileRunStore : IRunStore
{
    private readonly string _root;
    private readonly string _index;
    private readonly ConcurrentDictionary<string, (SemaphoreSlim Gate, long Version)> _written = new();

    public FileRunStore(IOptions<CoordinatorOptions> options)
    {
        _root = Path.Combine(Path.GetFullPath(options.Value.DataDirectory), "runs");
        _index = Path.Combine(Path.GetFullPath(options.Value.DataDirectory), "index");
        Directory.CreateDirectory(_root);
    }

    public async Task SaveAsync(RunManifest manifest, long version, CancellationToken cancellationToken = default)
    {
        var json = manifest.ToJson();
        var entry = _written.GetOrAdd(manifest.RunId, _ => (new SemaphoreSlim(1, 1), -1));
        await entry.Gate.WaitAsync(cancellationToken);
        try
        {
            var current = _written[manifest.RunId].Version;
            if (version <= current)
            {
                return;
            }

            var dir = Path.Combine(_root, manifest.RunId);
            Directory.CreateDirectory(dir);
            var temp = Path.Combine(dir, $"run.json.{Guid.NewGuid():N}.tmp");
            await File.WriteAllTextAsync(temp, json, cancellationToken);
            File.Move(temp, Path.Combine(dir, "run.json"), overwrite: true);
            _written[manifest.RunId] = (entry.Gate, version);
        }
        finally
        {
            entry.Gate.Release();
        }
    }

    public async Task<RunManifest?> GetAsync(string runId, CancellationToken cancellationToken = default)
    {
        var path = Path.Combine(_root, runId, "run.json");
        return File.Exists(path) ? RunManifest.FromJson(await File.ReadAllTextAsync(path, cancellationToken)) : null;
    }

    public async Task<IReadOnlyList<RunManifest>> ListAsync(CancellationToken cancellationToken = default)
    {
        var result = new List<RunManifest>();
        foreach (var dir in Directory.EnumerateDirectories(_root))
        {
            var path = Path.Combine(dir, "run.json");
            if (File.Exists(path))
            {
                result.Add(RunManifest.FromJson(await File.ReadAllTextAsync(path, cancellationToken)));
            }
        }

        return result;
    }

    public async Task AppendEventsAsync(string runId, IReadOnlyList<LineageEvent> events, CancellationToken cancellationToken = default)
    {
        var gate = _written.GetOrAdd(runId, _ => (new SemaphoreSlim(1, 1), -1)).Gate;
        await gate.WaitAsync(cancellationToken);
        try
        {
            var dir = RunDirectory(runId);
            Directory.CreateDirectory(dir);
            var text = string.Concat(events.Select(e => e.ToJson() + "\n"));
            await using var file = new FileStream(Path.Combine(dir, "events.jsonl"), FileMode.Append, FileAccess.Write, FileShare.Read);
            await file.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), cancellationToken);
            await file.FlushAsync(cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    public async Task<IReadOnlyList<LineageEvent>> ReadEventsAsync(string runId, CancellationToken cancellationToken = default)
    {
        var path = Path.Combine(RunDirectory(runId), "events.jsonl");
        if (!File.Exists(path))
        {
            return [];
        }

        var events = new List<LineageEvent>();
        foreach (var line in await File.ReadAllLinesAsync(path, cancellationToken))
        {
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                events.Add(LineageEvent.FromJson(line));
            }
            catch (System.Text.Json.JsonException)
            {
                // A crash mid-append leaves a torn last line; verification reports the gap, reading must not fail.
                break;
            }
        }

        return events;
    }

    public async Task IndexAsync(IReadOnlyList<LineageIndexEntry> entries, CancellationToken cancellationToken = default)
    {
        foreach (var group in entries.GroupBy(e => (e.Kind, e.Digest)))
        {
            var path = IndexPath(group.Key.Kind, group.Key.Digest);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var existing = File.Exists(path) ? (await File.ReadAllLinesAsync(path, cancellationToken)).ToHashSet(StringComparer.Ordinal) : [];
            var added = group.Select(e => e.RunId).Where(id => existing.Add(id)).ToList();
            if (added.Count > 0)
            {
                await File.AppendAllLinesAsync(path, added, cancellationToken);
            }
        }
    }

    public async Task<IReadOnlyList<string>> LookupAsync(string kind, string digest, CancellationToken cancellationToken = default)
    {
        var path = IndexPath(kind, digest);
        return File.Exists(path)
            ? (await File.ReadAllLinesAsync(path, cancellationToken)).Where(l => l.Length > 0).Distinct().Order(StringComparer.Ordinal).ToList()
            : [];
    }

    public Task ClearIndexAsync(CancellationToken cancellationToken = default)
    {
        if (Directory.Exists(_index))
        {
            Directory.Delete(_index, recursive: true);
        }

        return Task.CompletedTask;
    }

    private string RunDirectory(string runId) =>
        runId.Length > 0 && runId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && !runId.StartsWith('.')
            ? Path.Combine(_root, runId)
            : throw new ArgumentException($"'{runId}' is not a run id", nameof(runId));

    private string IndexPath(string kind, string digest)
    {
        if (kind.Length == 0 || !kind.All(c => c is >= 'a' and <= 'z' or '-') || !RMTC.Farm.Core.Digests.Sha256Digest.IsValid(digest))
        {
            throw new ArgumentException($"index key '{kind}:{digest}' must be a lowercase kind and a sha256 digest");
        }

        return Path.Combine(_index, kind, digest);
    }
}
