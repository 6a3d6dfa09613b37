namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>What the security checks ask of the scheduler: runs' shows (for show scoping) and uploads' expected sizes.</summary>
public sealed partial class FarmScheduler
{
    /// <summary>True when a run with this id or unique prefix is known; <paramref name="show"/> is its show (null: none).</summary>
    public bool TryGetShow(string idOrPrefix, out string? show)
    {
        lock (_gate)
        {
            var run = Find(idOrPrefix);
            show = run?.Spec.EffectiveShow;
            return run is not null;
        }
    }

    /// <summary>Every run's show by run id.</summary>
    public IReadOnlyDictionary<string, string?> ShowsOfRuns()
    {
        lock (_gate)
        {
            return _runs.Values.ToDictionary(r => r.Id, r => r.Spec.EffectiveShow, StringComparer.Ordinal);
        }
    }

    /// <summary>Size of the weights an active lease's run trains (its template's file size), or null for no active lease.</summary>
    public long? ExpectedUploadBytes(string leaseId)
    {
        lock (_gate)
        {
            return _leases.TryGetValue(leaseId, out var lease) ? lease.Run.Template.DataStart + lease.Run.Template.DataLength : null;
        }
    }
}
