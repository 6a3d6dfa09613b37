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
    private readonly ConcurrentDictionary<string, (SemaphoreSlim Gate, long Version)> _written = new();

    public FileRunStore(IOptions<CoordinatorOptions> options)
    {
        _root = Path.Combine(Path.GetFullPath(options.Value.DataDirectory), "runs");
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

    public Task AppendEventsAsync(string runId, IReadOnlyList<LineageEvent> events, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public Task<IReadOnlyList<LineageEvent>> ReadEventsAsync(string runId, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public Task IndexAsync(IReadOnlyList<LineageIndexEntry> entries, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public Task<IReadOnlyList<string>> LookupAsync(string kind, string digest, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public Task ClearIndexAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();
}
