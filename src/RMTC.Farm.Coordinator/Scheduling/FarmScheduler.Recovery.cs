using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Planning;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// Recovery after a coordinator restart: every run is rebuilt from its stored manifest. Completed shards stay
/// completed (their results are folded again from the artifact store), leases in flight are restored so agents can
/// reattach and still deliver, and lease epochs continue above the store's reservation, so no epoch a dead coordinator
/// may have granted is ever granted again (<c>FarmScheduler.Epochs.cs</c>).
/// </summary>
public sealed partial class FarmScheduler
{
    /// <summary>Loads every stored run; live ones continue. Returns how many live runs were recovered.</summary>
    public async Task<int> RecoverAsync(IRunStore store, CancellationToken cancellationToken)
    {
        var recovered = 0;
        foreach (var manifest in (await store.ListAsync(cancellationToken)).OrderBy(m => m.SubmittedAt))
        {
            // A run still being prepared has no round yet (its initial weights are not stored): it is recovered too.
            var preparing = manifest.Rounds.Count == 0 && manifest.InitialWeightsDigest.Length == 0;
            if (RunStates.IsFinal(manifest.State) || manifest.Spec is null || (manifest.Rounds.Count == 0 && !preparing))
            {
                lock (_gate)
                {
                    // Kept as a summary: its manifest is read from the store when asked, and a watcher gets the stored
                    // log, read when asked, ending with the run as it ended.
                    var id = manifest.RunId;
                    AddEndedLocked(manifest, ct => store.ReadEventsAsync(id, ct));
                }

                continue;
            }

            try
            {
                var events = await store.ReadEventsAsync(manifest.RunId, cancellationToken);
                var run = Rebuild(manifest, events.Count > 0 ? events[^1] : null);
                var epochs = await ReserveRecoveredEpochsAsync(manifest, events);
                lock (_gate)
                {
                    ApplyRecoveredEpochsLocked(run, epochs);
                    _runs[run.Id] = run;
                    _activeRuns[run.DispatchOrder] = run;
                    // Watchers see the whole run, not only what happened since this restart.
                    run.Events.Restore(run.Id, events);
                    run.ResetReady();
                    RestoreLeasesLocked(run);
                    RestoreTasksLocked(run);
                    var done = run.Tally.Done;
                    LogRunRecovered(run.Id, run.Round, done, run.Shards.Length);
                    EventLocked(run, "recovered", $"coordinator restarted: run continues at round {run.Round} with {done}/{run.Shards.Length} shards done");
                    SaveLocked(run);
                }

                if (preparing)
                {
                    // Nothing to close: the preparation is queued again (or its lease restored) above.
                }
                else if (run.CurrentRound.OutputDigest is not null)
                {
                    // The last round was merged and the run waited for its evaluations: it ends once they are in.
                    lock (_gate)
                    {
                        run.AwaitingEvaluations = true;
                        FinishIfEvaluatedLocked(run);
                    }
                }
                else if (run.Shards.All(s => s.Phase == ShardPhase.Done))
                {
                    // The crash fell between the last merge and the round's close.
                    await run.Merge.Gate.WaitAsync(cancellationToken);
                    try
                    {
                        CloseRound(run);
                    }
                    finally
                    {
                        run.Merge.Gate.Release();
                    }
                }

                recovered++;
            }
            catch (Exception e) when (e is IOException or SafetensorsFormatException or WeightsRejectedException or ArgumentException or InvalidOperationException or System.Text.Json.JsonException)
            {
                LogRecoveryFailed(manifest.RunId, e.Message);
                lock (_gate)
                {
                    var run = EndedStateOf(manifest);
                    _runs[run.Id] = run;
                    FinishRunLocked(run, RunStates.Failed, $"could not be recovered after a coordinator restart: {e.Message}");
                }
            }
        }

        lock (_gate)
        {
            DispatchLocked();
        }

        return recovered;
    }

    private RunState Rebuild(RunManifest m, LineageEvent? last)
    {
        var spec = m.Spec!;
        if (m.Rounds.Count == 0)
        {
            return RebuildPreparing(m, last);
        }

        var round = m.Rounds[^1];
        var assetList = m.Dataset.AssetsDigest is { } listDigest && _artifacts.ReadJson(listDigest) is { } json
            ? AssetList.FromJson(json)
            : throw new InvalidOperationException($"the asset list of run {m.RunId} is missing from the artifact store");
        var allPaths = Core.Datasets.Dataset.ListSamples(m.Dataset.Path);
        var plan = m.ShardPlan is { } planRecord
            ? ShardPlans.FromJson(_artifacts.ReadJson(planRecord.Digest) ?? throw new InvalidOperationException($"the shard plan of run {m.RunId} is missing from the artifact store"))
            : ShardPlans.Build(allPaths, assetList, spec.Shards, m.Seeds.ShardPlan);
        var evaluationIndices = EvaluationIndicesOf(m, allPaths);
        var template = _artifacts.ReadWeightsHeader(m.InitialWeightsDigest);

        var run = new RunState
        {
            Manifest = m,
            Spec = spec,
            Plan = plan,
            Template = template,
            SubmitOrder = ++_submitCounter,
            EvaluationIndices = evaluationIndices,
            Round = round.Round,
            GlobalDigest = round.InputDigest,
            GlobalBytes = _artifacts.SizeOf(round.InputDigest),
            LastEvent = last,
            Merge = NewMerge(m.RunId, spec),
        };

        var allAttempts = m.Rounds.SelectMany(r => r.Attempts).ToList();
        run.Shards = new ShardState[spec.Shards];
        for (var i = 0; i < spec.Shards; i++)
        {
            var mine = round.Attempts.Where(a => a.Shard == i).ToList();
            var eaten = round.Quorum?.Eaten?.Any(e => e.Shard == i) == true;
            run.Shards[i] = new ShardState
            {
                Index = i,
                Tally = run.Tally,
                QueuedAt = Now,
                LeaseEpoch = allAttempts.Where(a => a.Shard == i).Select(a => a.LeaseEpoch).DefaultIfEmpty(0).Max(),
                Attempts = mine.Count,
                Failures = mine.Count(a => a.Outcome is AttemptOutcomes.Failed or AttemptOutcomes.Refused),
                Phase = round.Shards[i].ResultDigest is null && !eaten ? ShardPhase.Queued : ShardPhase.Done,
                Eaten = eaten,
                ResultDigest = round.Shards[i].ResultDigest,
                ResumeCheckpointDigest = ResumeCheckpointOf(mine),
            };
        }

        // The round's merged results are folded again as the merge did, in shard order: the recovered run's average has
        // the bits the uninterrupted one would have had.
        var merged = round.MergedResults.Select(d => (Shard: round.Shards.First(s => s.ResultDigest == d).Shard, Digest: d, Weight: (double)plan[round.Shards.First(s => s.ResultDigest == d).Shard].Length)).ToList();
        run.Merge.StartRound(template);
        run.Merge.Rebuild(merged);
        foreach (var (_, digest, weight) in merged)
        {
            var loss = round.Attempts.LastOrDefault(a => a.ResultDigest == digest)?.FinalLoss ?? 0;
            run.LossSum += loss * weight;
            run.SamplesMerged += (long)weight;
        }

        if (m.Rounds.Count > 1 && m.Rounds[^2].MomentumDigest is { } momentum)
        {
            run.Merge.RestoreMomentum(_artifacts.ReadWeights(momentum).Tensors);
        }

        foreach (var a in allAttempts.Where(a => a.Outcome == AttemptOutcomes.Succeeded && a.ResultDigest is not null))
        {
            _acceptedResults[a.LeaseId] = a.ResultDigest!;
        }

        return run;
    }

    private int[] EvaluationIndicesOf(RunManifest m, IReadOnlyList<string> allPaths) => m.Evaluation is { } evaluation
        ? ShardPlans.IndicesOf(allPaths, AssetList.FromJson(_artifacts.ReadJson(evaluation.AssetsDigest) ?? throw new InvalidOperationException($"the evaluation assets of run {m.RunId} are missing from the artifact store")))
        : [];

    /// <summary>A run recovered before its initial weights were stored: its preparation is queued again (<see cref="RestoreTasksLocked"/>).</summary>
    private RunState RebuildPreparing(RunManifest m, LineageEvent? last)
    {
        var plan = m.ShardPlan is { } planRecord
            ? ShardPlans.FromJson(_artifacts.ReadJson(planRecord.Digest) ?? throw new InvalidOperationException($"the shard plan of run {m.RunId} is missing from the artifact store"))
            : throw new InvalidOperationException($"run {m.RunId} has no shard plan");
        return new RunState
        {
            Manifest = m,
            Spec = m.Spec!,
            Plan = plan,
            Template = new SafetensorsHeader { Tensors = [], Metadata = new Dictionary<string, string>(), DataStart = 8 },
            Merge = NewMerge(m.RunId, m.Spec),
            SubmitOrder = ++_submitCounter,
            EvaluationIndices = EvaluationIndicesOf(m, Core.Datasets.Dataset.ListSamples(m.Dataset.Path)),
            LastEvent = last,
        };
    }

    /// <summary>Leases that were running when the coordinator died are restored, so their agents can reattach and deliver.</summary>
    private void RestoreLeasesLocked(RunState run)
    {
        if (run.Manifest.Rounds.Count == 0)
        {
            return;
        }

        var round = run.CurrentRound;
        foreach (var shard in run.Shards.Where(s => s.Phase == ShardPhase.Queued))
        {
            // At most two attempts run at once (a straggler and its speculative twin); the older is the one the shard waits on.
            foreach (var attempt in round.Attempts.Where(a => a.Shard == shard.Index && a.Outcome == AttemptOutcomes.Running).OrderBy(a => a.LeaseEpoch).TakeLast(2))
            {
                RestoreLeaseLocked(run, shard, attempt);
            }
        }
    }

    private void RestoreLeaseLocked(RunState run, ShardState shard, AttemptRecord attempt)
    {
        if (!_agents.TryGetValue(attempt.AgentId, out var agent))
        {
            // A placeholder until the agent registers again; if it never does, the lease expires as usual.
            agent = new AgentState
            {
                Id = attempt.AgentId,
                Hostname = attempt.AgentId,
                Slots = 1,
                Capacity = AgentResources.None,
                SessionToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
                LastSeen = Now,
            };
            _agents[agent.Id] = agent;
            _roster.Add(agent);
        }

        var lease = new Lease
        {
            Id = attempt.LeaseId,
            Epoch = attempt.LeaseEpoch,
            Run = run,
            Round = run.Round,
            Shard = shard,
            Agent = agent,
            Attempt = attempt,
            GrantedAt = Now,
        };
        shard.Phase = ShardPhase.Leased;
        if (shard.Lease is null)
        {
            shard.Lease = lease;
        }
        else
        {
            shard.Backup = lease;
        }

        agent.AddLease(lease);
        _leases[lease.Id] = lease;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} recovered at round {Round}: {Done}/{Shards} shards done")]
    private partial void LogRunRecovered(string runId, int round, int done, int shards);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId} could not be recovered: {Reason}")]
    private partial void LogRecoveryFailed(string runId, string reason);
}
