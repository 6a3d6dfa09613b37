using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>Read-only snapshots of runs and their shards, and pausing: what other front ends (the OpenCue endpoint) need.</summary>
public sealed partial class FarmScheduler
{
    /// <summary>One run of the published view (<see cref="View"/>) by id or unique prefix; null when unknown.</summary>
    public RunView? ViewRun(string idOrPrefix) => View.Find(idOrPrefix);

    /// <summary>Every run of the published view (<see cref="View"/>), newest first.</summary>
    public IReadOnlyList<RunView> ViewRuns() => View.Runs;

    /// <summary>Stops (or, with false, resumes) new leases for a run; attempts already running finish. Null when unknown.</summary>
    public RunView? SetPaused(string idOrPrefix, bool paused)
    {
        lock (_gate)
        {
            var (run, ended) = FindLocked(idOrPrefix);
            if (run is null)
            {
                return ended?.View;
            }

            if (run.Paused != paused)
            {
                run.Paused = paused;
                EventLocked(run, paused ? "paused" : "resumed", paused ? "paused: no new shard attempts start" : "resumed");
                SaveLocked(run);
                if (!paused)
                {
                    DispatchLocked();
                }
            }

            return ViewLocked(run);
        }
    }

    private RunState? FindPendingByOpenCueNameLocked(string name) =>
        _runs.Values.FirstOrDefault(r => r.Spec.OpenCue?.JobName == name);

    private RunView ViewLocked(RunState run)
    {
        var round = run.Manifest.Rounds.Count > 0 ? run.CurrentRound : null;
        var shards = new ShardView[run.Spec.Shards];
        // One pass over the round's attempts, not one per shard: a 500-shard round has as many attempts.
        var byShard = round?.Attempts.ToLookup(a => a.Shard);
        for (var i = 0; i < shards.Length; i++)
        {
            var attempts = byShard?[i].ToList() ?? [];
            var last = attempts.LastOrDefault();
            var live = !run.IsFinal && i < run.Shards.Length ? run.Shards[i] : null;
            var failures = attempts.Count(a => a.Outcome is AttemptOutcomes.Failed or AttemptOutcomes.Refused);
            ShardStatus status;
            if (live?.Eaten == true)
            {
                status = ShardStatus.Eaten;
            }
            else if (attempts.Any(a => a.Outcome == AttemptOutcomes.Succeeded) || (live?.Phase == ShardPhase.Done))
            {
                status = ShardStatus.Succeeded;
            }
            else if (live is not null)
            {
                status = live.Phase == ShardPhase.Queued ? ShardStatus.Waiting : ShardStatus.Running;
            }
            else if (!run.IsFinal && round is null)
            {
                status = ShardStatus.Waiting; // the run is being prepared: its shards are queued once its initial weights are stored
            }
            else if (run.Manifest.State == RunStates.Failed && failures > run.MaxRetries)
            {
                status = ShardStatus.Dead;
            }
            else
            {
                status = ShardStatus.Eaten;
            }

            shards[i] = new ShardView(
                i,
                status,
                Math.Max(0, attempts.Count - 1),
                failures,
                last?.StartedAt,
                status == ShardStatus.Running ? null : last?.EndedAt,
                last?.AgentId);
        }

        var m = run.Manifest;
        return new RunView(run.Id, m.Name, m.State, run.Spec, m.SubmittedBy, m.SubmittedAt, m.FinishedAt, m.Error, run.Paused, run.Round, shards, RunSummary.Of(m),
            run.DispatchOrder.Priority, m.Comments?.Count ?? 0);
    }
}

/// <summary>Where one shard of a run's current round stands, in the terms render-farm tools use.</summary>
public enum ShardStatus
{
    Waiting,
    Running,
    Succeeded,
    /// <summary>Failed more often than the run's max_retries allow.</summary>
    Dead,
    /// <summary>Dropped from the round by a wrangler, or never finished because the run was cancelled or failed elsewhere.</summary>
    Eaten,
}

/// <summary>A shard of the current round: state, retries, and its latest attempt's times and agent.</summary>
public sealed record ShardView(int Index, ShardStatus Status, int Retries, int Failures, DateTimeOffset? StartedAt, DateTimeOffset? StoppedAt, string? AgentId);

/// <summary>
/// A run as it stands: its spec, state, the current round's shards, its <see cref="RunSummary"/> (what lists and graphs
/// show), its dispatch priority and how many comments it has.
/// </summary>
public sealed record RunView(
    string Id,
    string Name,
    string State,
    JobSpec Spec,
    string SubmittedBy,
    DateTimeOffset SubmittedAt,
    DateTimeOffset? FinishedAt,
    string? Error,
    bool Paused,
    int Round,
    IReadOnlyList<ShardView> Shards,
    RunSummary Summary,
    int Priority = 0,
    int Comments = 0)
{
    /// <summary>True once the run ended (succeeded, failed or cancelled).</summary>
    public bool IsFinal => RunStates.IsFinal(State);
}
