using System.Threading.Channels;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>A registered agent as the scheduler sees it. Guarded by the scheduler's lock.</summary>
/// <remarks>
/// Whatever decides whether the agent takes work (session, slots, leases, yielding, capacity) is changed only through
/// members that tell its <see cref="Roster"/>, so dispatch and waiting reasons read indexes instead of walking the farm.
/// </remarks>
internal sealed class AgentState
{
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);

    public required string Id { get; init; }
    public required string Hostname { get; set; }

    /// <summary>The roster this agent belongs to, told of every change that matters to dispatch.</summary>
    public AgentRoster? Roster { get; set; }

    public required int Slots
    {
        get;
        set
        {
            field = value;
            Roster?.Changed(this, membership: false);
        }
    }

    public required AgentResources Capacity
    {
        get;
        set
        {
            field = value;
            Roster?.Changed(this, membership: true);
        }
    }

    public required string SessionToken { get; set; }
    public string Version { get; set; } = "";
    public DateTimeOffset LastSeen { get; set; }
    public DateTimeOffset LastAssigned { get; set; }
    /// <summary>When a slot last became free (a lease ended, or the session opened): where dispatch latency starts.</summary>
    public DateTimeOffset FreeSince { get; set; }

    /// <summary>Messages for the agent's open session; null while it has none.</summary>
    public Channel<AgentCommand>? Outbox
    {
        get;
        set
        {
            var membership = (field is null) != (value is null);
            field = value;
            Roster?.Changed(this, membership);
        }
    }

    /// <summary>The agent's live leases by id.</summary>
    public IReadOnlyDictionary<string, Lease> Leases => _leases;

    /// <summary>The GPU samples of the agent's latest heartbeat (a snapshot; empty on CPU nodes).</summary>
    public IReadOnlyList<GpuReading> Gpus { get; set; } = [];

    /// <summary>Why the agent's node yields to rendering (its heartbeat says so); null while free. A yielding agent gets no leases.</summary>
    public string? YieldReason
    {
        get;
        set
        {
            field = value;
            Roster?.Changed(this, membership: false);
        }
    }

    public bool Connected => Outbox is not null;
    public int FreeSlots => Slots - _leases.Count;
    /// <summary>True when the agent may be granted a lease now: in session, a slot free, its node not yielded to rendering.</summary>
    public bool TakesWork => Connected && FreeSlots > 0 && YieldReason is null;

    public void AddLease(Lease lease)
    {
        _leases[lease.Id] = lease;
        Roster?.Changed(this, membership: false);
    }

    public void RemoveLease(string leaseId)
    {
        if (_leases.Remove(leaseId))
        {
            Roster?.Changed(this, membership: false);
        }
    }
}
