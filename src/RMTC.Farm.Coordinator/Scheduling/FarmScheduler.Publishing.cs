using RMTC.Farm.Coordinator.Metrics;
using RMTC.Farm.Coordinator.Runs;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// Publishing <see cref="FarmView"/>: readers get the published view without taking the scheduler's lock; a new one is
/// taken (once, under the lock) when the farm changed and the published one is older than <see cref="ViewMaxAge"/>, or
/// at once after a change readers must see immediately (a run submitted, paused or ended, an agent come or gone).
/// </summary>
public sealed partial class FarmScheduler
{
    /// <summary>How stale a view may be after ordinary changes (shards leased and done): dashboards and pollers see the farm within this.</summary>
    internal static readonly TimeSpan ViewMaxAge = TimeSpan.FromMilliseconds(100);

    private readonly object _publishing = new();
    private FarmView? _view;
    // Changes of the farm, and the count at the last one readers must see at once; both under _gate.
    private long _changes;
    private long _mustSeeAt;

    /// <summary>The farm as published: fresh after submissions, pauses, ends and agent sessions; at most <see cref="ViewMaxAge"/> behind otherwise.</summary>
    public FarmView View
    {
        get
        {
            var view = Volatile.Read(ref _view);
            if (view is not null && Volatile.Read(ref _mustSeeAt) <= view.Version
                && (Volatile.Read(ref _changes) == view.Version || _time.GetUtcNow() - view.TakenAt < ViewMaxAge))
            {
                return view;
            }

            // One reader takes the new view; the others wait for it rather than each walking the farm.
            lock (_publishing)
            {
                view = Volatile.Read(ref _view);
                if (view is not null && Volatile.Read(ref _changes) == view.Version)
                {
                    return view;
                }

                lock (_gate)
                {
                    view = TakeViewLocked();
                }

                Volatile.Write(ref _view, view);
                return view;
            }
        }
    }

    /// <summary>Notes a change of the farm; <paramref name="mustSee"/>: readers see it in the next view they get. Caller holds the lock.</summary>
    private void ChangedLocked(bool mustSee = false)
    {
        var changes = Interlocked.Increment(ref _changes);
        if (mustSee)
        {
            Volatile.Write(ref _mustSeeAt, changes);
        }
    }

    private FarmView TakeViewLocked()
    {
        // Views of ended runs never change: taken once when they ended, reused by every later view.
        var runs = _runs.Values.Select(r => (r.SubmitOrder, View: ViewLocked(r)))
            .Concat(_ended.All.Select(r => (r.SubmitOrder, r.View)))
            .OrderByDescending(r => r.SubmitOrder)
            .Select(r => r.View)
            .ToList();

        var connected = _roster.Connected;
        return new FarmView(
            Volatile.Read(ref _changes),
            Now,
            SnapshotLocked(),
            runs,
            connected.ToDictionary(a => a.Id, a => a.Gpus, StringComparer.Ordinal),
            connected.SelectMany(a => a.Gpus.Select(g => (a.Hostname, g))).ToList(),
            connected.Where(a => a.YieldReason is not null).ToDictionary(a => a.Id, a => a.YieldReason!, StringComparer.Ordinal),
            _agents.Values.Select(AgentViewLocked).ToList());
    }

    private static AgentView AgentViewLocked(AgentState agent) => new(
        agent.Id,
        agent.Hostname,
        agent.Connected,
        agent.YieldReason,
        agent.Slots,
        agent.Capacity,
        agent.LastSeen,
        agent.Leases.Values.OrderBy(l => l.GrantedAt)
            .Select(l => new LeaseView(l.Id, l.Run.Id, l.Round, l.Shard.Index, l.GrantedAt, l.Speculative, l.Shard.Task?.Kind, l.Progress))
            .ToList());

    private FarmSnapshot SnapshotLocked()
    {
        var live = _runs.Values;
        return new FarmSnapshot(
            _roster.Connected.Count,
            live.Sum(r => r.Tally.Queued),
            live.Sum(r => r.Tally.Running),
            live.Select(r => new RunProgress(r.Id, r.Manifest.Name,
                (Math.Max(0, r.Round - 1) * r.Spec.Shards + r.Tally.Done) / (double)(r.Spec.Rounds * r.Spec.Shards),
                r.Manifest.Rounds.LastOrDefault(x => x.Evaluation is not null)?.Evaluation)).ToList(),
            _agents.Values.Select(a => new AgentPresence(a.Id, a.Hostname, a.Connected)).ToList());
    }
}
