namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>What the security checks ask of the scheduler: runs' shows (for show scoping) and uploads' expected sizes.</summary>
public sealed partial class FarmScheduler
{
    /// <summary>True when a run with this id or unique prefix is known; <paramref name="show"/> is its show (null: none).</summary>
    /// <remarks>A run's show never changes, so the published view answers; only a run it does not hold yet takes the lock.</remarks>
    public bool TryGetShow(string idOrPrefix, out string? show)
    {
        if (View.Find(idOrPrefix) is { } seen)
        {
            show = seen.Spec.EffectiveShow;
            return true;
        }

        lock (_gate)
        {
            var (live, ended) = FindLocked(idOrPrefix);
            show = (live?.Spec ?? ended?.View.Spec)?.EffectiveShow;
            return live is not null || ended is not null;
        }
    }

    /// <summary>Every run's show by run id (the published view's runs).</summary>
    public IReadOnlyDictionary<string, string?> ShowsOfRuns() =>
        View.Runs.ToDictionary(r => r.Id, r => r.Spec.EffectiveShow, StringComparer.Ordinal);

    /// <summary>Size of the weights an active lease's run trains (its template's file size), or null for no active lease.</summary>
    public long? ExpectedUploadBytes(string leaseId)
    {
        lock (_gate)
        {
            // A preparation uploads the run's first weights: there is no template to bound it by yet.
            return _leases.TryGetValue(leaseId, out var lease) && lease.Shard.Task is null ? lease.Run.Template.DataStart + lease.Run.Template.DataLength : null;
        }
    }
}
