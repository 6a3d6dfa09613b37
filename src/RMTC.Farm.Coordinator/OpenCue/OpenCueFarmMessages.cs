using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// The farm's agents, leases and shows in OpenCue's terms: an agent is a host, a shard attempt running on it is a
/// proc, a show is the job specs' <c>show</c>. Memory in KB and times in Unix seconds, as Cuebot sends them.
/// </summary>
internal static class OpenCueFarmMessages
{
    /// <summary>The one allocation every agent is in (Cuebot names allocations <c>facility.name</c>).</summary>
    public const string AllocationName = "rmtc.agents";

    /// <summary>The farm's one allocation with its totals: every agent's cores and GPUs, what leases hold, what yielding nodes lock.</summary>
    public static Allocation ToAllocation(FarmView view)
    {
        var hosts = view.Agents.Select(a => ToHost(a, view)).ToList();
        var up = hosts.Where(h => h.State == HardwareState.Up).ToList();
        var locked = up.Where(h => h.LockState != LockState.Open).ToList();
        return new Allocation
        {
            Id = AllocationName,
            Name = AllocationName,
            Tag = "agents",
            Facility = "rmtc",
            Stats = new AllocationStats
            {
                Cores = up.Sum(h => h.Cores),
                AvailableCores = up.Except(locked).Sum(h => h.IdleCores),
                IdleCores = up.Sum(h => h.IdleCores),
                RunningCores = up.Sum(h => h.Cores - h.IdleCores),
                LockedCores = locked.Sum(h => h.Cores),
                Hosts = hosts.Count,
                LockedHosts = locked.Count,
                DownHosts = hosts.Count - up.Count,
                Gpus = up.Sum(h => (float)h.Gpus),
                AvailableGpus = up.Except(locked).Sum(h => (float)h.IdleGpus),
                IdleGpus = up.Sum(h => (float)h.IdleGpus),
                RunningGpus = up.Sum(h => (float)(h.Gpus - h.IdleGpus)),
                LockedGpus = locked.Sum(h => (float)h.Gpus),
            },
        };
    }

    /// <summary>An agent as a host: up while in session, NIMBY_LOCKED while its node yields to rendering, idle resources net of its leases' reservations.</summary>
    public static Host ToHost(AgentView agent, FarmView view)
    {
        var capacity = agent.Capacity;
        var reserved = Reserved(agent, view);
        var memory = (long)capacity.MemoryMib * 1024;
        var gpuMemory = (long)capacity.GpuMemoryMib * 1024;
        var host = new Host
        {
            Id = agent.Id,
            Name = agent.Id,
            AllocName = AllocationName,
            NimbyEnabled = agent.YieldReason is not null,
            Cores = (float)capacity.Cores,
            IdleCores = (float)Math.Max(0, capacity.Cores - reserved.Cores),
            Memory = memory,
            IdleMemory = Math.Max(0, memory - reserved.MemoryKb),
            TotalMemory = memory,
            // The agent reports no free memory: what its leases have not reserved stands in.
            FreeMemory = Math.Max(0, memory - reserved.MemoryKb),
            GpuMemory = gpuMemory,
            IdleGpuMemory = Math.Max(0, gpuMemory - reserved.GpuMemoryKb),
            TotalGpuMemory = gpuMemory,
            FreeGpuMemory = Math.Max(0, gpuMemory - reserved.GpuMemoryKb),
            PingTime = OpenCueMessages.Seconds(agent.LastSeen),
            State = agent.Connected ? HardwareState.Up : HardwareState.Down,
            LockState = agent.YieldReason is not null ? LockState.NimbyLocked : LockState.Open,
            Gpus = capacity.Gpus,
            // Signed: leases of a multi-slot agent may together reserve more GPUs than it has.
            IdleGpus = Math.Max(0, (long)capacity.Gpus - reserved.Gpus),
        };
        host.Tags.AddRange(capacity.Tags);
        return host;
    }

    /// <summary>The agent's live leases as procs: a shard attempt with its job and frame, or a run's preparation or evaluation task.</summary>
    public static IEnumerable<Proc> ToProcs(AgentView agent, FarmView view)
    {
        foreach (var lease in agent.Leases)
        {
            var run = view.Find(lease.RunId);
            var reserved = Reservation.Of(run);
            var proc = new Proc
            {
                Id = lease.Id,
                // cueadmin shows the part before the slash as the host.
                Name = $"{agent.Id}/{lease.Id}",
                ShowName = run?.Spec.EffectiveShow ?? "",
                JobName = run is null ? lease.RunId : OpenCueMessages.NameOf(run),
                FrameName = run is null ? "" : FrameNameOf(run, lease),
                GroupName = run?.Spec.EffectiveShow ?? "",
                PingTime = OpenCueMessages.Seconds(agent.LastSeen),
                BookedTime = OpenCueMessages.Seconds(lease.GrantedAt),
                DispatchTime = OpenCueMessages.Seconds(lease.GrantedAt),
                ReservedMemory = reserved.MemoryKb,
                ReservedGpuMemory = reserved.GpuMemoryKb,
                ReservedCores = (float)reserved.Cores,
                ReservedGpus = reserved.Gpus,
            };
            proc.Services.Add(lease.Task is null ? "rmtc train" : $"rmtc {lease.Task}");
            yield return proc;
        }
    }

    /// <summary>The frame a shard attempt works on (<c>0003-train</c>), or the task it runs (<c>prepare</c>, <c>evaluate</c>).</summary>
    public static string FrameNameOf(RunView run, LeaseView lease)
    {
        if (lease.Task is not null)
        {
            return lease.Task;
        }

        var frames = OpenCueMessages.FramesOf(run);
        var number = lease.Shard < frames.Count ? frames[lease.Shard] : lease.Shard + 1;
        return $"{number:0000}-{OpenCueMessages.LayerNameOf(run)}";
    }

    /// <summary>A show with its jobs' counts: active while one of its jobs is not finished.</summary>
    public static Show ToShow(string name, IReadOnlyList<RunView> runs, FarmView view)
    {
        var live = runs.Where(r => !r.IsFinal).ToList();
        var ids = runs.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var running = view.Agents.SelectMany(a => a.Leases).Where(l => ids.Contains(l.RunId)).ToList();
        return new Show
        {
            Id = name,
            Name = name,
            BookingEnabled = true,
            DispatchEnabled = true,
            Active = live.Count > 0,
            ShowStats = new ShowStats
            {
                RunningFrames = live.Sum(r => r.Shards.Count(s => s.Status == ShardStatus.Running)),
                DeadFrames = runs.Sum(r => r.Shards.Count(s => s.Status == ShardStatus.Dead)),
                PendingFrames = live.Sum(r => r.Shards.Count(s => s.Status == ShardStatus.Waiting)),
                PendingJobs = live.Count,
                CreatedJobCount = runs.Count,
                CreatedFrameCount = runs.Sum(r => r.Shards.Count),
                RenderedFrameCount = runs.Sum(r => r.Shards.Count(s => s.Status == ShardStatus.Succeeded)),
                FailedFrameCount = runs.Sum(r => r.Shards.Sum(s => s.Failures)),
                ReservedCores = (float)running.Sum(l => view.Find(l.RunId)?.Spec.Resources.Cores ?? 0),
                ReservedGpus = running.Sum(l => view.Find(l.RunId)?.Spec.Resources.Gpus ?? 0),
            },
        };
    }

    /// <summary>
    /// A show's job whiteboard as Cuebot answers it for CueGUI's Monitor Cue: rmtc has no group hierarchy, so the show
    /// is the one group (level 0, no subgroups), holding its unfinished jobs by id and inline, with their frame counts.
    /// </summary>
    public static NestedGroup ToWhiteboard(string show, IReadOnlyList<RunView> runs, FarmView view)
    {
        var live = runs.Where(r => !r.IsFinal).ToList();
        var ids = live.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var running = view.Agents.SelectMany(a => a.Leases).Where(l => ids.Contains(l.RunId)).ToList();
        var group = new NestedGroup
        {
            Id = show,
            Name = show,
            Level = 0,
            MinCores = 0,
            MaxCores = -1,
            MinGpus = 0,
            MaxGpus = -1,
            Groups = new NestedGroupSeq(),
            Stats = new GroupStats
            {
                RunningFrames = live.Sum(r => r.Shards.Count(s => s.Status == ShardStatus.Running)),
                DeadFrames = live.Sum(r => r.Shards.Count(s => s.Status == ShardStatus.Dead)),
                WaitingFrames = live.Sum(r => r.Shards.Count(s => s.Status == ShardStatus.Waiting)),
                PendingJobs = live.Count,
                ReservedCores = (float)running.Sum(l => view.Find(l.RunId)?.Spec.Resources.Cores ?? 0),
                ReservedGpus = running.Sum(l => view.Find(l.RunId)?.Spec.Resources.Gpus ?? 0),
            },
        };
        group.Jobs.AddRange(live.Select(r => r.Id));
        group.InlineJobs.AddRange(live.Select(OpenCueMessages.ToJob));
        return group;
    }

    /// <summary>What the agent's leases reserve together: the sum of <see cref="Reservation.Of"/>, as its procs show it.</summary>
    private static Reservation Reserved(AgentView agent, FarmView view)
    {
        var sum = new Reservation(0, 0, 0, 0);
        foreach (var lease in agent.Leases)
        {
            var r = Reservation.Of(view.Find(lease.RunId));
            sum = new Reservation(sum.Cores + r.Cores, sum.MemoryKb + r.MemoryKb, sum.GpuMemoryKb + r.GpuMemoryKb, sum.Gpus + r.Gpus);
        }

        return sum;
    }
}
