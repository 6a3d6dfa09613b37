using RMTC.Farm.Coordinator.Metrics;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// The farm as it stood at one moment, published by the scheduler for everything that only reads it: the Explorer's
/// farm view, the OpenCue endpoint, the metrics gauges and show scoping. Immutable: readers keep and walk it without
/// any lock, and a newer view replaces it whole (<see cref="Version"/> rises).
/// </summary>
/// <param name="Version">The scheduler's change count this view includes.</param>
/// <param name="TakenAt">When it was taken.</param>
/// <param name="Counts">Agents connected, shards queued and running, live runs' progress.</param>
/// <param name="Runs">Every run, newest first.</param>
/// <param name="GpusByAgent">The latest GPU samples of every connected agent, by agent id.</param>
/// <param name="Gpus">The same samples with each agent's host name (the metrics' labels).</param>
/// <param name="Yielding">Connected agents whose node yields to rendering, with the reason.</param>
public sealed record FarmView(
    long Version,
    DateTimeOffset TakenAt,
    FarmSnapshot Counts,
    IReadOnlyList<RunView> Runs,
    IReadOnlyDictionary<string, IReadOnlyList<GpuReading>> GpusByAgent,
    IReadOnlyList<(string Hostname, GpuReading Sample)> Gpus,
    IReadOnlyDictionary<string, string> Yielding)
{
    private readonly Dictionary<string, RunView> _byId = Runs.ToDictionary(r => r.Id, StringComparer.Ordinal);

    /// <summary>A run by id or unique id prefix; null when unknown or ambiguous.</summary>
    public RunView? Find(string idOrPrefix)
    {
        if (_byId.TryGetValue(idOrPrefix, out var exact))
        {
            return exact;
        }

        RunView? found = null;
        foreach (var run in Runs)
        {
            if (run.Id.StartsWith(idOrPrefix, StringComparison.Ordinal))
            {
                if (found is not null)
                {
                    return null;
                }

                found = run;
            }
        }

        return found;
    }
}
