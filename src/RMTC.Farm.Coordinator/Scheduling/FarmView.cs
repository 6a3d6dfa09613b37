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
/// <param name="Agents">Every agent registered since the coordinator started, connected or not, with its capacity and live leases.</param>
public sealed record FarmView(
    long Version,
    DateTimeOffset TakenAt,
    FarmSnapshot Counts,
    IReadOnlyList<RunView> Runs,
    IReadOnlyDictionary<string, IReadOnlyList<GpuReading>> GpusByAgent,
    IReadOnlyList<(string Hostname, GpuReading Sample)> Gpus,
    IReadOnlyDictionary<string, string> Yielding,
    IReadOnlyList<AgentView> Agents)
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

/// <summary>An agent as published: what the OpenCue endpoint shows as a host, its leases as procs.</summary>
/// <param name="Id">The agent's id.</param>
/// <param name="Hostname">Its node's host name.</param>
/// <param name="Connected">True while it holds a session.</param>
/// <param name="YieldReason">Why its node yields to rendering (no leases meanwhile); null while free.</param>
/// <param name="Slots">Leases it may hold at once.</param>
/// <param name="Capacity">What its registration declared.</param>
/// <param name="LastSeen">Its latest heartbeat or session message.</param>
/// <param name="Leases">Its live leases, oldest first.</param>
public sealed record AgentView(
    string Id,
    string Hostname,
    bool Connected,
    string? YieldReason,
    int Slots,
    AgentResources Capacity,
    DateTimeOffset LastSeen,
    IReadOnlyList<LeaseView> Leases);

/// <summary>One live lease of an agent: a shard attempt, or a run's preparation or evaluation task (<paramref name="Task"/>).</summary>
/// <param name="Id">The lease id.</param>
/// <param name="RunId">The run it works for.</param>
/// <param name="Round">The round (1-based).</param>
/// <param name="Shard">The shard's index in the round; for a task, its lease slot.</param>
/// <param name="GrantedAt">When the agent got it.</param>
/// <param name="Speculative">A second attempt of a straggling shard.</param>
/// <param name="Task">The task's kind (e.g. prepare, evaluate); null for a shard attempt.</param>
/// <param name="Progress">How far it has got, as the agent's latest heartbeat said; null before the first.</param>
public sealed record LeaseView(string Id, string RunId, int Round, int Shard, DateTimeOffset GrantedAt, bool Speculative, string? Task, LeaseProgress? Progress = null);
