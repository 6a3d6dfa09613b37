using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>Durable home of run manifests. The embedded file store is the default; Redis is the farm's.</summary>
public interface IRunStore
{
    /// <summary>Saves a manifest; <paramref name="version"/> increases with every change so a late writer never overwrites a newer state.</summary>
    Task SaveAsync(RunManifest manifest, long version, CancellationToken cancellationToken = default);

    /// <summary>The stored manifest of a run, or null.</summary>
    Task<RunManifest?> GetAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>Every stored manifest.</summary>
    Task<IReadOnlyList<RunManifest>> ListAsync(CancellationToken cancellationToken = default);
}
