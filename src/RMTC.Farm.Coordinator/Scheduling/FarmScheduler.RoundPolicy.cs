using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// Round policies on the clock (the job spec's <c>round_policy</c>): a straggling shard gets a second, speculative lease on
/// another free agent, and a round with a quorum closes at its deadline without the shards still out.
/// </summary>
public sealed partial class FarmScheduler
{
    /// <summary>Applies every live run's round policy as of now (called on the lease reaper's tick).</summary>
    public async Task EnforceRoundPoliciesAsync()
    {
        List<RunState>? due = null;
        lock (_gate)
        {
            foreach (var run in _activeRuns.Values)
            {
                if (run.IsFinal || run.Spec.RoundPolicy is not { } policy)
                {
                    continue;
                }

                if (policy.StragglerAfter is { } after)
                {
                    SpeculateLocked(run, after);
                }

                if (QuorumDueLocked(run))
                {
                    (due ??= new()).Add(run);
                }
            }
        }

        foreach (var run in due ?? [])
        {
            await run.Merge.Gate.WaitAsync();
            try
            {
                bool close;
                lock (_gate)
                {
                    // Checked again under the merge gate: a result may have closed the round or be merging now.
                    close = QuorumDueLocked(run) && CloseAtQuorumLocked(run);
                }

                if (close)
                {
                    CloseRound(run);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogRoundPolicyFailed(run.Id, run.Round, e.Message);
            }
            finally
            {
                run.Merge.Gate.Release();
            }
        }
    }

    /// <summary>
    /// Leases each shard whose only attempt has run longer than <paramref name="after"/> to a second free agent that fits
    /// (never the first one's). Queued shards come first: dispatch has already given them every free agent it could.
    /// </summary>
    private void SpeculateLocked(RunState run, TimeSpan after)
    {
        if (run.Paused || run.PeekReady() is not null)
        {
            return;
        }

        foreach (var shard in run.Shards)
        {
            if (shard.Phase != ShardPhase.Leased || shard.Backup is not null || shard.Lease is not { } first || Now - first.GrantedAt < after)
            {
                continue;
            }

            if (!EpochReadyLocked(run, shard))
            {
                return; // the reservation is on its way: the next tick tries again
            }

            AgentState? pick = null;
            foreach (var agent in _agents.Values)
            {
                if (agent.TakesWork && !ReferenceEquals(agent, first.Agent) && Fits(agent, run)
                    && (pick is null || ByLoad.Compare(agent, pick) < 0))
                {
                    pick = agent;
                }
            }

            if (pick is null)
            {
                return; // no free agent: the next tick tries again
            }

            LogStragglerSpeculated(run.Id, run.Round, shard.Index, first.Agent.Id, (Now - first.GrantedAt).TotalSeconds, pick.Id);
            GrantLocked(pick, run, shard, speculative: true);
        }
    }

    /// <summary>True when the run's round may close at its quorum now: past the deadline, enough results, none merging, some still out.</summary>
    private bool QuorumDueLocked(RunState run)
    {
        if (run.IsFinal || run.Manifest.Rounds.Count == 0 || run.Spec.RoundPolicy is not { Close: RoundClosePolicies.Quorum, Quorum: { } quorum, Deadline: { } deadline })
        {
            return false;
        }

        if (Now < run.CurrentRound.StartedAt + deadline || run.CurrentRound.OutputDigest is not null)
        {
            return false;
        }

        int done = 0, merged = 0;
        foreach (var shard in run.Shards)
        {
            if (shard.Phase == ShardPhase.Completing)
            {
                return false; // its result joins the merge first
            }

            if (shard.Phase == ShardPhase.Done)
            {
                done++;
                // An eaten shard is done with the round but brings no result (FarmScheduler.FrameActions.cs).
                merged += shard.Eaten ? 0 : 1;
            }
        }

        return merged >= quorum && done < run.Shards.Length;
    }

    /// <summary>
    /// Closes the current round with the results merged so far: cancels the attempts still running, marks their shards as
    /// left out and records exactly that in the manifest. The caller holds the lock and the run's merge gate, and then merges.
    /// </summary>
    private bool CloseAtQuorumLocked(RunState run)
    {
        var policy = run.Spec.RoundPolicy!;
        var round = run.CurrentRound;
        var unmerged = new List<int>();
        var why = $"round {run.Round} closed at its deadline with a quorum of results";
        foreach (var shard in run.Shards)
        {
            if (shard.Phase == ShardPhase.Done)
            {
                continue;
            }

            while (shard.Lease is { } lease)
            {
                CancelLeaseLocked(lease, why);
            }

            shard.Phase = ShardPhase.Done;
            unmerged.Add(shard.Index);
        }

        // Shards eaten earlier in the round are already recorded here: the closure adds to that record.
        round.Quorum ??= new QuorumClosure();
        round.Quorum.Quorum = policy.Quorum!.Value;
        round.Quorum.Merged = round.MergedResults.Count;
        round.Quorum.UnmergedShards.AddRange(unmerged);
        round.Quorum.Deadline = round.StartedAt + policy.Deadline!.Value;
        LogRoundClosedAtQuorum(run.Id, run.Round, round.MergedResults.Count, run.Shards.Length, string.Join(", ", unmerged));
        EventLocked(run, "round-quorum", $"round {run.Round} closed at its deadline ({DurationText.Format(policy.Deadline.Value)}) with {round.MergedResults.Count}/{run.Shards.Length} results (quorum {policy.Quorum}); left out: shard {string.Join(", ", unmerged)}",
            facts: new JsonObject
            {
                ["quorum"] = policy.Quorum,
                ["merged"] = round.MergedResults.Count,
                ["unmerged"] = new JsonArray(unmerged.Select(i => (JsonNode)JsonValue.Create(i)).ToArray()),
            });
        SaveLocked(run);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} round {Round} shard {Shard}: attempt on {AgentId} has run {Seconds:F0} s; also leased to {Backup} (speculative)")]
    private partial void LogStragglerSpeculated(string runId, int round, int shard, string agentId, double seconds, string backup);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} round {Round}: closed at its deadline with {Merged}/{Shards} results; left out shards {Unmerged}")]
    private partial void LogRoundClosedAtQuorum(string runId, int round, int merged, int shards, string unmerged);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId} round {Round}: closing at quorum failed: {Reason}")]
    private partial void LogRoundPolicyFailed(string runId, int round, string reason);
}
