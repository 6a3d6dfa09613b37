using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Merging;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// Wranglers' actions on shards of a run's current round (OpenCue's frame retry, kill and eat): each checked against the
/// run, its round and its round policy first (all or nothing), then recorded in the manifest and as an event of the run.
/// </summary>
public sealed partial class FarmScheduler
{
    /// <summary>
    /// Retries, kills or eats <paramref name="shards"/> of the run's current round. Every shard is judged first: one that
    /// cannot take the action (the round is closing, the round policy needs the shard) refuses the whole request, and
    /// nothing changes. Shards the action does not apply to (a kill of a waiting shard) are left alone, unless
    /// <paramref name="strict"/> (one frame named), when they refuse it too.
    /// </summary>
    /// <param name="runId">The run's exact id.</param>
    /// <param name="action">Retry, kill or eat.</param>
    /// <param name="shards">Shard indices of the current round.</param>
    /// <param name="origin">Who asked, recorded with the action.</param>
    /// <param name="strict">One named frame: refuse rather than leave it alone when the action does not apply to it.</param>
    /// <param name="describe">How answers name a shard (e.g. by its OpenCue frame); null: <c>shard N</c>.</param>
    public async Task<RunActionResult> ActOnShardsAsync(string runId, ShardAction action, IReadOnlyList<int> shards, ActionOrigin origin, bool strict, Func<int, string>? describe = null)
    {
        describe ??= i => $"shard {i}";
        RunState? run;
        lock (_gate)
        {
            run = _runs.GetValueOrDefault(runId);
            if (run is null)
            {
                return _ended.TryGet(runId, out var ended) ? RunActionResult.Refused(Sealed(ended.State, ended.MaxRetries, action)) : RunActionResult.NotFound(runId);
            }
        }

        // A retry of a merged shard changes the round's running sum, and an eat may close the round: both are merges.
        await run.Merge.Gate.WaitAsync();
        try
        {
            List<(string Digest, int Shard)>? refold = null;
            bool close;
            List<int> acted;
            lock (_gate)
            {
                if (JudgeLocked(run, action, shards, strict, describe) is { } refusal)
                {
                    return RunActionResult.Refused(refusal);
                }

                acted = shards.Distinct().Where(i => AppliesLocked(run.Shards[i], action)).Order().ToList();
                foreach (var i in acted)
                {
                    var shard = run.Shards[i];
                    switch (action)
                    {
                        case ShardAction.Retry:
                            RetryMergedLocked(run, shard, origin);
                            break;
                        case ShardAction.Kill:
                            KillAttemptsLocked(run, shard, origin);
                            break;
                        default:
                            EatLocked(run, shard, origin);
                            break;
                    }
                }

                if (action == ShardAction.Retry)
                {
                    refold = run.CurrentRound.MergedResults
                        .Select(d => (d, run.CurrentRound.Shards.First(s => s.ResultDigest == d).Shard)).ToList();
                }

                close = action == ShardAction.Eat && run.Tally.Done == run.Shards.Length;
                if (!close && action == ShardAction.Eat && QuorumDueLocked(run))
                {
                    close = CloseAtQuorumLocked(run);
                }

                // The wrangler who acted reads the frames next: the published view shows the change at once.
                ChangedLocked(mustSee: true);
                SaveLocked(run);
                DispatchLocked();
            }

            if (refold is not null)
            {
                // The running sum cannot give a result back: it is rebuilt from the results still merged, in shard order
                // as the merge folds them (the retried shard's new result takes its place when it comes).
                run.Merge.Rebuild(refold.Select(r => (r.Shard, r.Digest, (double)run.Plan[r.Shard].Length)));
            }

            if (close)
            {
                CloseRound(run);
            }

            return RunActionResult.Done(acted);
        }
        finally
        {
            run.Merge.Gate.Release();
        }
    }

    /// <summary>Why the request cannot be done as a whole, or null. Caller holds the lock and the run's merge gate.</summary>
    private string? JudgeLocked(RunState run, ShardAction action, IReadOnlyList<int> shards, bool strict, Func<int, string> describe)
    {
        var verb = Verb(action);
        if (run.IsFinal)
        {
            return Sealed(run.Manifest.State, run.MaxRetries, action);
        }

        if (run.Manifest.Rounds.Count == 0)
        {
            return "the run is being prepared (its initial weights are built first): its shards are not queued yet";
        }

        if (run.CurrentRound.OutputDigest is not null)
        {
            return $"round {run.Round} is merged and the run ends once its evaluation is in: no shard can be {Past(action)}";
        }

        if (shards.Count == 0)
        {
            return $"no frame matched: nothing to {verb}";
        }

        foreach (var i in shards)
        {
            if (i < 0 || i >= run.Shards.Length)
            {
                return $"{describe(i)} is not in this run (it has {run.Shards.Length} shards)";
            }
        }

        if (action == ShardAction.Eat && run.Spec.RoundPolicy is not { Close: RoundClosePolicies.Quorum, Quorum: not null })
        {
            return $"FedAvg cannot close round {run.Round} without {string.Join(", ", shards.Distinct().Order().Select(describe))}: the job's round policy waits for every shard's result (round_policy close: all). Retry or kill the frame instead, or launch the job with round_policy close: quorum to let rounds close without some shards";
        }

        var skipped = new List<string>();
        foreach (var i in shards.Distinct().Order())
        {
            var shard = run.Shards[i];
            if (shard.Phase == ShardPhase.Completing)
            {
                return $"{describe(i)}'s result is being merged right now: try again in a moment";
            }

            if (!AppliesLocked(shard, action))
            {
                skipped.Add($"{describe(i)} {WhyNotLocked(run, shard, action)}");
                continue;
            }

            if (action != ShardAction.Eat && shard.Attempts >= run.MaxRetries + 2)
            {
                // The manifest's size was judged at submission for max_retries + 2 attempts per shard and round.
                return $"{describe(i)} has had {shard.Attempts} attempts in round {run.Round}, the most the run's manifest was sized for (max_retries {run.MaxRetries} + 2): raise the job's max retries (job.setMaxRetries) to allow more";
            }
        }

        if (action == ShardAction.Eat)
        {
            var quorum = run.Spec.RoundPolicy!.Quorum!.Value;
            var left = run.Shards.Count(s => !s.Eaten && !shards.Contains(s.Index));
            if (left < quorum)
            {
                return $"eating {string.Join(", ", shards.Distinct().Order().Where(i => !run.Shards[i].Eaten).Select(describe))} would leave {left} of round {run.Round}'s {run.Shards.Length} shards, under the quorum of {quorum} results FedAvg needs to close the round (round_policy quorum): retry or kill the frame instead";
            }
        }

        if (skipped.Count > 0 && (strict || skipped.Count == shards.Distinct().Count()))
        {
            return $"nothing to {verb}: {string.Join("; ", skipped)}";
        }

        return null;
    }

    /// <summary>
    /// The refusal of a frame action on an ended run, saying what to do instead. Cuebot revives a finished job to retry
    /// its dead frames; a run's manifest is hash-chained and signed once it ends, so here a new job is launched instead.
    /// </summary>
    private static string Sealed(string state, int maxRetries, ShardAction action)
    {
        var retries = state == RunStates.Failed
            ? $"where its frames died after too many failed attempts, raise <maxretries> (max_retries in a YAML spec; it was {maxRetries}); "
            : "";
        return $"the job has finished ({state}) and its run's manifest is sealed (hash-chained and signed), so no frame of it can be {Past(action)}: "
            + "rmtc does not revive a finished job as Cuebot does. To train it again, launch its spec again as a new job "
            + $"(pycue's launchSpec, pyoutline's cuerun, or rmtc submit SPEC); {retries}the new job starts from its first round, on the same data with the same seed";
    }

    /// <summary>True when <paramref name="action"/> changes <paramref name="shard"/> (others are left alone or refused).</summary>
    private static bool AppliesLocked(ShardState shard, ShardAction action) => action switch
    {
        ShardAction.Retry => shard.Phase == ShardPhase.Done && !shard.Eaten,
        ShardAction.Kill => shard.Phase == ShardPhase.Leased,
        _ => shard.Phase is ShardPhase.Queued or ShardPhase.Leased,
    };

    private static string WhyNotLocked(RunState run, ShardState shard, ShardAction action) => (action, shard.Phase) switch
    {
        (_, ShardPhase.Done) when shard.Eaten => $"was eaten from round {run.Round}: it stays out of this round and runs again in the next",
        (ShardAction.Retry, ShardPhase.Queued) => "is already waiting for an agent",
        (ShardAction.Retry, _) => "is running: kill it (frame kill, cueman -kill) to stop its attempt and queue it again",
        (ShardAction.Kill, ShardPhase.Queued) => "is waiting: no attempt of it runs",
        (ShardAction.Kill, _) => $"has succeeded: no attempt of it runs (retry it to train it again)",
        _ => $"has succeeded and its result is merged into round {run.Round}: retry it to train it again",
    };

    /// <summary>Takes a merged shard's result out of the round and queues the shard again. Caller holds the lock and the merge gate.</summary>
    private void RetryMergedLocked(RunState run, ShardState shard, ActionOrigin origin)
    {
        var round = run.CurrentRound;
        var record = round.Shards[shard.Index];
        var digest = record.ResultDigest!;
        var weight = run.Plan[shard.Index].Length;
        round.MergedResults.Remove(digest);
        record.ResultDigest = null;
        // Records that had settled change: the next manifest write carries them again.
        run.Recording.Touch(run.Manifest.Rounds.Count - 1, shard.Index);
        var attempt = round.Attempts.LastOrDefault(a => a.Shard == shard.Index && a.Outcome == AttemptOutcomes.Succeeded && a.ResultDigest == digest);
        if (attempt is not null)
        {
            attempt.Outcome = AttemptOutcomes.Retried;
            attempt.StoppedBy = AgentText.Cut(origin.By);
        }

        run.LossSum -= (attempt?.FinalLoss ?? 0) * weight;
        run.SamplesMerged -= weight;
        shard.ResultDigest = null;
        // A retry trains the shard again from the round's input, not from a checkpoint of an earlier attempt.
        shard.ResumeCheckpointDigest = null;
        RequeueLocked(run, shard, countsAsFailure: false, "retried");
        LogShardAction(run.Id, run.Round, shard.Index, "retried", origin.By, origin.Via);
        EventLocked(run, "shard-retried", $"round {run.Round} shard {shard.Index} retried by {origin.By} ({origin.Via}{ReasonText(origin)}): its result {Short(digest)} is taken out of the round's merge and the shard runs again",
            shard.Index, facts: Facts(origin, new JsonObject { ["discarded"] = digest, ["lease"] = attempt?.LeaseId }));
    }

    /// <summary>Stops the shard's running attempts (recorded as killed) and queues it again. Caller holds the lock.</summary>
    private void KillAttemptsLocked(RunState run, ShardState shard, ActionOrigin origin)
    {
        var why = $"killed by {origin.By} ({origin.Via}){ReasonText(origin)}";
        var leases = new JsonArray();
        var agents = new List<string>();
        while (shard.Lease is { } lease)
        {
            // Releasing the first attempt promotes a speculative twin, so this stops both.
            CancelLeaseLocked(lease, AgentText.Cut(why));
            lease.Attempt.Outcome = AttemptOutcomes.Killed;
            lease.Attempt.StoppedBy = AgentText.Cut(origin.By);
            leases.Add((JsonNode)lease.Id);
            agents.Add(lease.Agent.Id);
        }

        RequeueLocked(run, shard, countsAsFailure: false, why);
        LogShardAction(run.Id, run.Round, shard.Index, "killed", origin.By, origin.Via);
        EventLocked(run, "shard-killed", $"round {run.Round} shard {shard.Index}: attempt on {string.Join(", ", agents)} {why}; the shard is queued again",
            shard.Index, agents.FirstOrDefault() ?? "", facts: Facts(origin, new JsonObject { ["leases"] = leases }));
    }

    /// <summary>Drops the shard from the round (its attempts are cancelled) and records it with the round's quorum. Caller holds the lock.</summary>
    private void EatLocked(RunState run, ShardState shard, ActionOrigin origin)
    {
        var policy = run.Spec.RoundPolicy!;
        var round = run.CurrentRound;
        var why = $"eaten by {origin.By} ({origin.Via}){ReasonText(origin)}";
        while (shard.Lease is { } lease)
        {
            CancelLeaseLocked(lease, AgentText.Cut(why));
            lease.Attempt.StoppedBy = AgentText.Cut(origin.By);
        }

        shard.Eaten = true;
        shard.Phase = ShardPhase.Done;
        round.Quorum ??= new QuorumClosure
        {
            Quorum = policy.Quorum!.Value,
            Deadline = round.StartedAt + (policy.Deadline ?? TimeSpan.Zero),
        };
        round.Quorum.Merged = round.MergedResults.Count;
        round.Quorum.UnmergedShards.Add(shard.Index);
        (round.Quorum.Eaten ??= []).Add(new EatenShard { Shard = shard.Index, By = AgentText.Cut(origin.By), At = Now, Via = AgentText.Cut(origin.Via) });
        var left = run.Shards.Count(s => !s.Eaten);
        LogShardAction(run.Id, run.Round, shard.Index, "eaten", origin.By, origin.Via);
        EventLocked(run, "shard-eaten", $"round {run.Round} shard {shard.Index} {why}: the round closes with the results of its other {left} shards (quorum {policy.Quorum})",
            shard.Index, facts: Facts(origin, new JsonObject { ["quorum"] = policy.Quorum, ["left"] = left }));
    }

    private static JsonObject Facts(ActionOrigin origin, JsonObject facts)
    {
        facts["by"] = AgentText.Cut(origin.By);
        facts["via"] = AgentText.Cut(origin.Via);
        if (origin.Reason.Length > 0)
        {
            facts["reason"] = AgentText.Cut(origin.Reason);
        }

        return facts;
    }

    private static string ReasonText(ActionOrigin origin) => origin.Reason.Length > 0 ? $": {AgentText.Cut(origin.Reason)}" : "";

    private static string Verb(ShardAction action) => action switch
    {
        ShardAction.Retry => "retry",
        ShardAction.Kill => "kill",
        _ => "eat",
    };

    private static string Past(ShardAction action) => action switch
    {
        ShardAction.Retry => "retried",
        ShardAction.Kill => "killed",
        _ => "eaten",
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} round {Round} shard {Shard} {Action} by {By} ({Via})")]
    private partial void LogShardAction(string runId, int round, int shard, string action, string by, string via);
}
