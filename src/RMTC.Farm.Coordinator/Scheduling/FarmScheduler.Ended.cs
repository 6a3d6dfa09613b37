using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// Ended runs: once a run ends its live state is dropped and an <see cref="EndedRun"/> summary takes its place (what
/// lists, views and watchers need); its manifest is read from the store when asked (<see cref="EndedRuns"/>).
/// </summary>
public sealed partial class FarmScheduler
{
    /// <summary>
    /// Replaces an ended run's live state with its summary. Its manifest stays in memory until its last write lands,
    /// since until then the store holds an older state. Caller holds the lock.
    /// </summary>
    private void RetireLocked(RunState run)
    {
        var status = StatusLocked(run);
        var ended = new EndedRun
        {
            SubmitOrder = run.SubmitOrder,
            View = ViewLocked(run),
            Status = status,
            MaxRetries = run.MaxRetries,
            Events = run.Events,
            Stored = run.Journal.Stored.Task,
            Unwritten = run.Manifest,
        };
        _runs.Remove(run.Id);
        _ended.Add(ended);
        _ = ForgetWhenWrittenAsync(run, ended);
    }

    /// <summary>Once the ended run's last write landed, its manifest and event history are read from the store.</summary>
    private async Task ForgetWhenWrittenAsync(RunState run, EndedRun ended)
    {
        // Off the caller, which holds the lock: nothing below runs inside its change.
        await Task.Yield();
        RunManifest manifest;
        while (true)
        {
            Task saved;
            long version;
            lock (_gate)
            {
                (saved, version) = (run.LatestSave, run.LatestVersion);
            }

            try
            {
                await saved.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The journal logged it; the manifest stays in memory, the only complete copy.
                return;
            }

            lock (_gate)
            {
                // The caller that ended the run may have saved it once more after: that write is the one to wait for.
                if (run.LatestVersion != version)
                {
                    continue;
                }

                manifest = ended.Unwritten!;
            }

            break;
        }

        // A run that just ended is the one most likely asked for next (its page, its export, a test's assertions).
        _ended.Remember(ended.Id, manifest.ToJson());
        lock (_gate)
        {
            ended.Unwritten = null;
        }

        var id = ended.Id;
        ended.Events.UseStored(ct => _ended.ReadEventsAsync(id, ct), ended.Status);
    }

    /// <summary>Ended runs whose manifest is still held because its last write has not landed yet (0 once the journal caught up).</summary>
    internal int EndedManifestsHeld
    {
        get
        {
            lock (_gate)
            {
                return _ended.All.Count(r => r.Unwritten is not null);
            }
        }
    }

    /// <summary>Takes a run that had ended before this coordinator started as its summary. Caller holds the lock.</summary>
    private void AddEndedLocked(RunManifest manifest, Func<CancellationToken, Task<IReadOnlyList<LineageEvent>>> events)
    {
        // The run's state exists only for the moment its summary is taken.
        var run = EndedStateOf(manifest);
        var status = StatusLocked(run);
        run.Events.UseStored(events, status);
        _ended.Add(new EndedRun
        {
            SubmitOrder = run.SubmitOrder,
            View = ViewLocked(run),
            Status = status,
            MaxRetries = run.MaxRetries,
            Events = run.Events,
            Stored = Task.CompletedTask,
        });
    }

    /// <summary>A run's state as far as its stored manifest says (no shards, no merge state): for a run that is not resumed.</summary>
    private RunState EndedStateOf(RunManifest manifest) => new()
    {
        Manifest = manifest,
        Spec = manifest.Spec ?? new Core.Jobs.JobSpec { Name = manifest.Name, Recipe = manifest.Recipe, Dataset = manifest.Dataset.Path },
        Plan = [],
        Template = new SafetensorsHeader { Tensors = [], Metadata = new Dictionary<string, string>(), DataStart = 8 },
        Merge = NewMerge(manifest.RunId, manifest.Spec),
        SubmitOrder = ++_submitCounter,
        Round = manifest.Rounds.Count,
    };

    /// <summary>A live or ended run by id or unique id prefix (one of the two, or neither). Caller holds the lock.</summary>
    private (RunState? Live, EndedRun? Ended) FindLocked(string idOrPrefix)
    {
        if (_runs.TryGetValue(idOrPrefix, out var live))
        {
            return (live, null);
        }

        if (_ended.TryGet(idOrPrefix, out var ended))
        {
            return (null, ended);
        }

        var lives = _runs.Values.Where(r => r.Id.StartsWith(idOrPrefix, StringComparison.Ordinal)).Take(2).ToList();
        var endeds = _ended.WithPrefix(idOrPrefix, 2).ToList();
        return lives.Count + endeds.Count == 1 ? (lives.FirstOrDefault(), endeds.FirstOrDefault()) : (null, null);
    }

    /// <summary>
    /// The run's manifest as it stands (a copy the caller may change), or null when unknown. An ended run's is read from
    /// the store (one document), or from the few kept after recent reads.
    /// </summary>
    public async Task<RunManifest?> GetManifestAsync(string idOrPrefix, CancellationToken cancellationToken = default)
    {
        string runId;
        lock (_gate)
        {
            var (live, ended) = FindLocked(idOrPrefix);
            if ((live?.Manifest ?? ended?.Unwritten) is { } held)
            {
                return RunManifest.FromJson(held.ToJson());
            }

            if (ended is null)
            {
                return null;
            }

            runId = ended.Id;
        }

        return await _ended.ManifestAsync(runId, cancellationToken).ConfigureAwait(false);
    }
}
