using System.Threading.Channels;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>A registered agent as the scheduler sees it. Guarded by the scheduler's lock.</summary>
internal sealed class AgentState
{
    public required string Id { get; init; }
    public required string Hostname { get; set; }
    public required int Slots { get; set; }
    public required Resources Capacity { get; set; }
    public required string SessionToken { get; set; }
    public string Version { get; set; } = "";
    public DateTimeOffset LastSeen { get; set; }
    public DateTimeOffset LastAssigned { get; set; }
    /// <summary>When a slot last became free (a lease ended, or the session opened): where dispatch latency starts.</summary>
    public DateTimeOffset FreeSince { get; set; }
    /// <summary>Messages for the agent's open session; null while it has none.</summary>
    public Channel<CoordinatorMessage>? Outbox { get; set; }
    public Dictionary<string, Lease> Leases { get; } = new(StringComparer.Ordinal);
    /// <summary>The GPU samples of the agent's latest heartbeat (a snapshot; empty on CPU nodes).</summary>
    public IReadOnlyList<GpuSample> Gpus { get; set; } = [];
    /// <summary>Why the agent's node yields to rendering (its heartbeat says so); null while free. A yielding agent gets no leases.</summary>
    public string? YieldReason { get; set; }

    public bool Connected => Outbox is not null;
    public int FreeSlots => Slots - Leases.Count;
    /// <summary>True when the agent may be granted a lease now: in session, a slot free, its node not yielded to rendering.</summary>
    public bool TakesWork => Connected && FreeSlots > 0 && YieldReason is null;
}
