namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// Indexes over the farm's agents that dispatch and status read on every change: who takes work now, how many are
/// connected or yielding, and a version that moves when the connected set or a capacity changes. Kept current by
/// <see cref="AgentState"/> itself. Guarded by the scheduler's lock.
/// </summary>
/// <remarks>
/// With a thousand agents and thousands of results a second, walking every agent after each result (dispatch) or each
/// event (the waiting reason in a job snapshot) was the scheduler's largest cost; these indexes make both proportional
/// to the free agents, which are few on a busy farm.
/// </remarks>
internal sealed class AgentRoster
{
    private readonly HashSet<AgentState> _takingWork = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<AgentState> _connected = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<AgentState> _yielding = new(ReferenceEqualityComparer.Instance);

    /// <summary>Agents that may be granted a lease now (<see cref="AgentState.TakesWork"/>).</summary>
    public IReadOnlyCollection<AgentState> TakingWork => _takingWork;

    /// <summary>Agents with an open session.</summary>
    public IReadOnlyCollection<AgentState> Connected => _connected;

    /// <summary>Connected agents whose node yields to rendering.</summary>
    public int Yielding => _yielding.Count;

    /// <summary>Moves when an agent connects or disconnects, or its capacity changes: what a run fits on can have changed.</summary>
    public long MembershipVersion { get; private set; }

    /// <summary>Adds a new agent and keeps it indexed from now on.</summary>
    public void Add(AgentState agent)
    {
        agent.Roster = this;
        Changed(agent, membership: true);
    }

    internal void Changed(AgentState agent, bool membership)
    {
        Set(_takingWork, agent, agent.TakesWork);
        Set(_connected, agent, agent.Connected);
        Set(_yielding, agent, agent.Connected && agent.YieldReason is not null);
        if (membership)
        {
            MembershipVersion++;
        }
    }

    private static void Set(HashSet<AgentState> set, AgentState agent, bool member)
    {
        if (member)
        {
            set.Add(agent);
        }
        else
        {
            set.Remove(agent);
        }
    }
}
