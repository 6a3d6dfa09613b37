using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Merging;
using RMTC.Farm.Coordinator.Metrics;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// The farm's scheduling state: agents, runs, shards and leases, under one lock. Everything slow (file I/O,
/// merging, network writes) happens outside it; inside it only bookkeeping runs, so decisions stay consistent.
/// </summary>
public sealed partial class FarmScheduler
{
    private readonly object _gate = new();
    private readonly Dictionary<string, AgentState> _agents = new(StringComparer.Ordinal);
    private readonly AgentRoster _roster = new();
    // Live runs; an ended run leaves for _ended, which keeps its summary (FarmScheduler.Ended.cs).
    private readonly Dictionary<string, RunState> _runs = new(StringComparer.Ordinal);
    private readonly EndedRuns _ended;
    // Runs not yet ended, by priority then submission order: what dispatch walks (ended ones are dropped lazily).
    private readonly SortedDictionary<DispatchOrder, RunState> _activeRuns = new();
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    private readonly RunJournal _journal;
    private readonly IArtifactStore _artifacts;
    private readonly TimeProvider _time;
    private readonly ILogger<FarmScheduler> _log;
    private readonly CoordinatorOptions _options;
    private long _submitCounter;

    private readonly FarmMetrics? _metrics;

    public FarmScheduler(RunJournal journal, IArtifactStore artifacts, TimeProvider time, IOptions<CoordinatorOptions> options, ILogger<FarmScheduler> log, FarmMetrics? metrics = null)
    {
        _metrics = metrics;
        // Scrapes read the published view: a scrape never waits for the scheduler's lock.
        metrics?.ObserveFarm(() => View.Counts);
        metrics?.ObserveGpus(() => View.Gpus);
        _journal = journal;
        _ended = new EndedRuns(journal.Store);
        _artifacts = artifacts;
        _time = time;
        _log = log;
        _options = options.Value;
    }

    /// <summary>Agents with an open session now.</summary>
    /// <remarks>Read from the published view, which is taken again at once after an agent comes or goes.</remarks>
    public int ConnectedAgents => View.Counts.AgentsConnected;

    private DateTimeOffset Now => _time.GetUtcNow();

    private RoundMerge NewMerge(string runId, Core.Jobs.JobSpec? spec) =>
        new(_artifacts, runId, spec?.Recipe ?? "", spec?.Merge ?? new Core.Jobs.MergeSpec());

    /// <summary>
    /// Grants leases on queued shards to agents with free slots that fit. Caller holds the lock.
    /// Runs by priority then submission order, each run's shards oldest-ready first, each to the least-loaded free agent that fits:
    /// the cost is the free agents plus the grants, never the farm's whole queue (it runs after every result).
    /// </summary>
    private void DispatchLocked()
    {
        if (_roster.TakingWork.Count == 0 || _activeRuns.Count == 0)
        {
            return;
        }

        var free = new List<AgentState>(_roster.TakingWork);

        // Least-loaded agent first, so a round spreads across the wall rather than piling onto one node.
        free.Sort(ByLoad);
        List<DispatchOrder>? ended = null;
        foreach (var (order, run) in _activeRuns)
        {
            if (run.IsFinal)
            {
                (ended ??= new()).Add(order);
                continue;
            }

            if (run.Paused)
            {
                continue;
            }

            if (run.Tasks.Count > 0)
            {
                DispatchTasksLocked(run, free);
            }

            while (free.Count > 0 && run.PeekReady() is { } shard)
            {
                if (!EpochReadyLocked(run, shard))
                {
                    break; // its reservation lands soon and dispatches again
                }

                int pick = -1;
                for (int i = 0; i < free.Count; i++)
                {
                    if (Fits(free[i], run))
                    {
                        pick = i;
                        break;
                    }
                }

                if (pick < 0)
                {
                    break; // no free agent fits this run; its other shards need the same
                }

                var agent = free[pick];
                free.RemoveAt(pick);
                run.Ready.Dequeue();
                GrantLocked(agent, run, shard);
                if (agent.FreeSlots > 0)
                {
                    // A multi-slot agent goes back in load order.
                    int at = free.BinarySearch(agent, ByLoad);
                    free.Insert(at < 0 ? ~at : at, agent);
                }
            }

            if (free.Count == 0)
            {
                break;
            }
        }

        if (ended is not null)
        {
            foreach (var order in ended)
            {
                _activeRuns.Remove(order);
            }
        }
    }

    private static readonly Comparer<AgentState> ByLoad = Comparer<AgentState>.Create((a, b) =>
    {
        int c = a.Leases.Count.CompareTo(b.Leases.Count);
        return c != 0 ? c : a.LastAssigned.CompareTo(b.LastAssigned);
    });

    private static bool Fits(AgentState agent, RunState run)
    {
        var need = run.Spec.Resources;
        var have = agent.Capacity;
        return need.Gpus <= have.Gpus
            && (ulong)need.GpuMemoryMiB <= have.GpuMemoryMib
            && (need.MemoryMiB == 0 || (ulong)need.MemoryMiB <= have.MemoryMib)
            && (need.Cores == 0 || need.Cores <= have.Cores)
            && need.Tags.All(t => have.Tags.Contains(t, StringComparer.OrdinalIgnoreCase));
    }

    /// <summary>Explains why a run's queued shards wait (shown by status), or null when some agent fits.</summary>
    private string? WaitingReasonLocked(RunState run)
    {
        if (run.Tally.Queued == 0 && !run.Tasks.Any(t => t.Slot.Phase == ShardPhase.Queued))
        {
            return null;
        }

        if (run.Paused)
        {
            return "paused: resume it from an OpenCue tool (pycue's job.resume())";
        }

        if (_roster.Connected.Count == 0)
        {
            return "no agent is connected: start one with `rmtc agent --coordinator HOST:PORT`";
        }

        foreach (var free in _roster.TakingWork)
        {
            if (Fits(free, run))
            {
                return null; // dispatch hands it a shard at once
            }
        }

        // No free agent fits: each fitting one is busy or yielding (the walk of all agents runs only when that changed).
        if (run.FitsVersion != _roster.MembershipVersion)
        {
            run.FitsAnyConnected = _roster.Connected.Any(a => Fits(a, run));
            run.FitsVersion = _roster.MembershipVersion;
        }

        if (run.FitsAnyConnected)
        {
            return _roster.Yielding > 0 && _roster.Connected.Where(a => Fits(a, run)).All(a => a.YieldReason is not null)
                ? "every fitting agent has yielded its node to rendering (render-first); shards resume when a node is free"
                : "every fitting agent is busy";
        }

        var need = run.Spec.Resources;
        return $"no connected agent fits the job's resources (gpus {need.Gpus}, gpu_memory {need.GpuMemoryMiB} MiB, memory {need.MemoryMiB} MiB, cores {need.Cores}, tags [{string.Join(", ", need.Tags)}])";
    }

    /// <summary>Leases the shard to the agent with its next epoch, which the caller made sure is reserved (<see cref="EpochReadyLocked"/>).</summary>
    private void GrantLocked(AgentState agent, RunState run, ShardState shard, bool speculative = false)
    {
        var epoch = TakeEpochLocked(run, shard);
        shard.Attempts++;
        var now = Now;
        var attempt = new AttemptRecord
        {
            Shard = shard.Index,
            Attempt = shard.Attempts,
            AgentId = agent.Id,
            LeaseId = $"{run.Id}/r{run.Round}/s{shard.Index}/e{epoch}",
            LeaseEpoch = epoch,
            StartedAt = now,
        };
        var lease = new Lease
        {
            Id = attempt.LeaseId,
            Epoch = epoch,
            Run = run,
            Round = run.Round,
            Shard = shard,
            Agent = agent,
            Attempt = attempt,
            GrantedAt = now,
            Speculative = speculative,
        };
        run.CurrentRound.Attempts.Add(attempt);
        var ready = shard.QueuedAt > agent.FreeSince ? shard.QueuedAt : agent.FreeSince;
        _metrics?.LeaseGranted((now - shard.QueuedAt).TotalSeconds, (now - ready).TotalSeconds);
        shard.Phase = ShardPhase.Leased;
        if (speculative)
        {
            shard.Backup = lease;
        }
        else
        {
            shard.Lease = lease;
        }

        agent.AddLease(lease);
        agent.LastAssigned = now;
        _leases[lease.Id] = lease;
        if (run.Manifest.State == RunStates.Queued)
        {
            run.Manifest.State = RunStates.Running;
        }

        var shardRecord = run.CurrentRound.Shards[shard.Index];
        var order = new WorkOrder(
            WorkKind.Shard,
            lease.Id,
            lease.Epoch,
            run.Id,
            run.Round,
            shard.Index,
            shard.Attempts,
            run.Spec.Recipe,
            run.Manifest.Dataset.Path,
            run.Manifest.Dataset.Digest,
            Core.Planning.RoundSlices.For(run.Plan[shard.Index], run.Spec.Seed, shard.Index, run.Round, run.Spec.Local.EffectiveRoundsPerEpoch),
            run.GlobalDigest,
            run.GlobalBytes,
            shardRecord.Seed,
            run.Spec.Local.Epochs,
            run.Spec.Local.BatchSize,
            run.Spec.Local.LearningRate,
            ResumeCheckpointLocked(run, shard, attempt)).WithRunSettings(run);
        agent.Outbox!.Writer.TryWrite(new AssignWork(order));
        LogLeaseGranted(run.Id, run.Round, shard.Index, lease.Epoch, agent.Id);
        var facts = new JsonObject { ["lease"] = lease.Id, ["epoch"] = lease.Epoch, ["input"] = run.GlobalDigest, ["seed"] = shardRecord.Seed };
        var why = "";
        if (speculative && shard.Lease is { } first)
        {
            // Only present on speculative leases, so the chain entries of ordinary leases keep their old shape.
            facts["speculative"] = true;
            why = $"; speculative: epoch {first.Epoch} on {first.Agent.Id} has run {(now - first.GrantedAt).TotalSeconds:F0} s";
        }

        EventLocked(run, "shard-leased", $"round {run.Round} shard {shard.Index} leased to {agent.Id} (attempt {shard.Attempts}, epoch {lease.Epoch}{why})", shard.Index, agent.Id,
            facts: facts);
        SaveLocked(run);
    }

    /// <summary>Ends a lease (it no longer counts against its agent). Caller holds the lock.</summary>
    private void ReleaseLocked(Lease lease)
    {
        lease.Agent.RemoveLease(lease.Id);
        lease.Agent.FreeSince = Now;
        _leases.Remove(lease.Id);
        var shard = lease.Shard;
        if (ReferenceEquals(shard.Lease, lease))
        {
            // A speculative attempt, if any, becomes the one the shard waits for.
            shard.Lease = shard.Backup;
            shard.Backup = null;
        }
        else if (ReferenceEquals(shard.Backup, lease))
        {
            shard.Backup = null;
        }
    }

    /// <summary>Ends a live attempt the shard no longer needs (another attempt won, or its round closed without it) and tells its agent to stop.</summary>
    private void CancelLeaseLocked(Lease lease, string why)
    {
        lease.Attempt.Outcome = AttemptOutcomes.Cancelled;
        lease.Attempt.EndedAt = Now;
        lease.Attempt.Error = why;
        lease.Agent.Outbox?.Writer.TryWrite(new CancelWork(lease.Id, lease.Epoch, why));
        ReleaseLocked(lease);
    }

    /// <summary>Queues a run's shard again after a lost or failed attempt, or fails the run when retries are spent.</summary>
    private void RequeueLocked(RunState run, ShardState shard, bool countsAsFailure, string why)
    {
        if (shard.Lease is not null && countsAsFailure)
        {
            // The other attempt of a speculated shard still runs: this failure counts, but the shard waits for that one.
            shard.Failures++;
            if (shard.Failures > run.MaxRetries)
            {
                FinishRunLocked(run, RunStates.Failed, $"round {run.Round} shard {shard.Index} failed {shard.Failures} times (max_retries {run.MaxRetries}); last error: {why}");
            }

            return;
        }

        if (shard.Lease is not null)
        {
            return;
        }

        if (countsAsFailure)
        {
            shard.Failures++;
            if (shard.Failures > run.MaxRetries)
            {
                FinishRunLocked(run, RunStates.Failed, $"round {run.Round} shard {shard.Index} failed {shard.Failures} times (max_retries {run.MaxRetries}); last error: {why}");
                return;
            }
        }

        shard.Phase = ShardPhase.Queued;
        shard.QueuedAt = Now;
        run.Ready.Enqueue(shard);
    }

    private void FinishRunLocked(RunState run, string state, string? error)
    {
        if (run.IsFinal)
        {
            return;
        }

        run.Manifest.State = state;
        run.Manifest.Error = error;
        run.Manifest.FinishedAt = Now;
        foreach (var shard in run.Shards)
        {
            // Releasing the first attempt promotes a speculative one, so this takes both.
            while (shard.Lease is { } lease)
            {
                CancelLeaseLocked(lease, $"run {run.Id} {state}");
            }

            if (shard.Phase != ShardPhase.Done)
            {
                shard.Phase = ShardPhase.Done;
            }
        }

        CancelTasksLocked(run, $"run {run.Id} {state}");

        LogRunFinished(run.Id, state, error ?? "");
        var facts = new JsonObject { ["state"] = state };
        if (run.Manifest.FinalModelDigest is { } model)
        {
            facts["model"] = model;
            run.PendingIndex.Add(new LineageIndexEntry(LineageIndexKinds.Model, model, run.Id));
        }

        EventLocked(run, state, error ?? $"run {state}", final: true, facts: facts);
        SealLocked(run);
        SaveLocked(run);
        RetireLocked(run);
        // Waits for the merge gate, which the caller may hold (a last round closing): never inline under the lock.
        _ = ReleaseMergeStateAsync(run);
    }

    /// <summary>Seals an ended run: the manifest's digest and the chain head go into both the manifest and a last chain entry.</summary>
    private void SealLocked(RunState run)
    {
        var head = run.LastEvent!;
        var seal = new ManifestSeal { SealedAt = Now, ChainHead = head.Hash, Events = head.Seq };
        run.Manifest.Seal = null;
        seal.ManifestDigest = ManifestSeal.DigestOf(run.Manifest);
        run.Manifest.Seal = seal;
        ChainLocked(run, "sealed", $"manifest sealed: sha256:{seal.ManifestDigest}", facts: new JsonObject
        {
            ["manifestDigest"] = seal.ManifestDigest,
            ["chainHead"] = seal.ChainHead,
        });
    }

    private void EventLocked(RunState run, string kind, string message, int shard = -1, string agentId = "", bool final = false, bool keep = true, JsonObject? facts = null)
    {
        // Readers of the published view see a run come, pause, resume or end at once; shard moves within ViewMaxAge.
        ChangedLocked(mustSee: final || kind is "submitted" or "paused" or "resumed" or "recovered");
        if (!keep && !run.Events.HasSubscribers)
        {
            // A live-only event (progress) with nobody watching: its job snapshot would cost a walk of the run for nothing.
            return;
        }

        long seq = 0;
        var hash = "";
        if (keep)
        {
            // Chained first, so watchers get the entry's seq and hash to resume after it (across restarts too).
            ChainLocked(run, kind, message, shard, agentId, facts);
            seq = run.LastEvent!.Seq;
            hash = run.LastEvent.Hash;
        }

        run.Events.Append(new RunEvent(Now, run.Id, kind, message, run.Round, shard, agentId, seq, hash, StatusLocked(run)), keep, final);
    }

    /// <summary>Adds an entry to the run's hash chain; it reaches the store with the next save.</summary>
    private void ChainLocked(RunState run, string kind, string message, int shard = -1, string agentId = "", JsonObject? facts = null)
    {
        var data = facts ?? new JsonObject();
        data["message"] = message;
        data["round"] = run.Round;
        if (shard >= 0)
        {
            data["shard"] = shard;
        }

        if (agentId.Length > 0)
        {
            data["agent"] = agentId;
        }

        var entry = LineageEvent.Next(run.LastEvent, Now, kind, data);
        run.LastEvent = entry;
        run.PendingEvents.Add(entry);
    }

    /// <summary>Hands the run's new events and a snapshot of its manifest to the journal (written in order, in the background).</summary>
    private Task SaveLocked(RunState run)
    {
        // Versions continue across coordinator restarts: never below the clock, always above the last one.
        var version = Math.Max(run.LatestVersion + 1, Now.UtcTicks);
        run.LatestVersion = version;
        var events = run.PendingEvents.ToArray();
        run.PendingEvents.Clear();
        var index = run.PendingIndex.ToArray();
        run.PendingIndex.Clear();
        var task = _journal.Enqueue(run, version, events, index, run.PendingEpochReservation, SnapshotOf);
        run.PendingEpochReservation = 0;
        run.LatestSave = task;
        _pendingSaves.RemoveAll(t => t.IsCompleted);
        _pendingSaves.Add(task);
        return task;
    }

    private readonly List<Task> _pendingSaves = new();

    /// <summary>What the journal writes of a run's manifest when its write comes up (what changed): null if the run changed after <paramref name="version"/>.</summary>
    private ManifestCapture? SnapshotOf(RunState run, long version, bool whole, bool expect)
    {
        lock (_gate)
        {
            if (version == RunJournal.Latest)
            {
                // No change can slip in under the lock: the journal takes every change not yet written, and the
                // capture is the run as the last of them left it.
                run.Journal.TakeOpenForCatchUp();
                version = run.LatestVersion;
            }

            return run.LatestVersion == version ? run.Recording.Capture(run.Manifest, version, whole, expect) : null;
        }
    }

    /// <summary>Waits until every manifest write started so far is on disk.</summary>
    public async Task FlushAsync()
    {
        Task[] pending;
        lock (_gate)
        {
            pending = _pendingSaves.ToArray();
            _pendingSaves.Clear();
        }

        try
        {
            await Task.WhenAll(pending);
        }
        catch (Exception)
        {
            // Already logged by the continuation.
        }
    }

    /// <summary>The run as it stands, for callers outside the lock. Caller holds the lock.</summary>
    internal RunStatus StatusLocked(RunState run)
    {
        var m = run.Manifest;
        var rounds = new List<RoundFigures>(m.Rounds.Count);
        foreach (var r in m.Rounds)
        {
            if (r.OutputDigest is null)
            {
                continue;
            }

            var e = r.Evaluation;
            rounds.Add(new RoundFigures(
                r.Round,
                r.InputDigest,
                r.OutputDigest,
                r.MeanLoss ?? double.NaN,
                r.Shards.Sum(s => s.Samples),
                r.EndedAt is { } end ? (end - r.StartedAt).TotalSeconds : 0,
                e?.Loss,
                e?.Accuracy,
                e?.Psnr,
                e?.Samples ?? 0));
        }

        return new RunStatus(
            m.RunId,
            m.Name,
            m.State,
            m.Recipe,
            run.Spec.Rounds,
            run.Spec.Shards,
            run.Round,
            // An ended run's shards are counted from its manifest (the last round's accepted results): the live shard
            // state is gone after a restart, and ending marks every shard done, merged or not.
            run.IsFinal ? m.Rounds.LastOrDefault()?.Shards.Count(s => s.ResultDigest is not null) ?? 0 : run.Tally.Done,
            run.IsFinal ? 0 : run.Tally.Running,
            run.IsFinal ? 0 : run.Tally.Queued,
            m.FinalModelDigest ?? "",
            m.FinalModelTensorsDigest ?? "",
            m.Error ?? "",
            m.SubmittedAt,
            m.FinishedAt,
            m.Dataset.Name,
            m.Dataset.Digest,
            m.SubmittedBy,
            run.IsFinal ? "" : WaitingReasonLocked(run) ?? "",
            rounds);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} round {Round} shard {Shard}: lease epoch {Epoch} granted to agent {AgentId}")]
    private partial void LogLeaseGranted(string runId, int round, int shard, long epoch, string agentId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} finished: {State} {Error}")]
    private partial void LogRunFinished(string runId, string state, string error);

}
