using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// Render-first preemption: agents yield their nodes to rendering. A yielded attempt is handed back with its checkpoint
/// and progress (never counted as a failure), its shard is queued again and its next lease, in the same round with the
/// same global weights, resumes from the checkpoint while the artifact store has it. A yielding agent gets no leases.
/// </summary>
public sealed partial class FarmScheduler
{
    /// <summary>
    /// An agent handed an attempt back because its node yields to rendering. Stale or foreign leases are ignored (their
    /// checkpoint upload was already refused by the fence); a current one ends as <c>preempted</c>.
    /// </summary>
    public void ShardYielded(string agentId, AttemptYield yielded)
    {
        lock (_gate)
        {
            if (!_leases.TryGetValue(yielded.LeaseId, out var lease) || lease.Agent.Id != agentId || lease.Epoch != yielded.LeaseEpoch)
            {
                LogYieldIgnored(yielded.LeaseId, yielded.LeaseEpoch, agentId);
                return;
            }

            // Either attempt of a speculated shard may yield; the other one, if any, keeps the shard leased.
            if (lease.Shard.Phase != ShardPhase.Leased || !lease.Shard.Holds(lease))
            {
                ReleaseLocked(lease);
                return;
            }

            if (lease.Shard.Task is not null)
            {
                // A task keeps no checkpoint: it runs again from the start on the next free agent.
                TaskLostLocked(lease, AttemptOutcomes.Preempted, $"yielded to rendering: {AgentText.Cut(yielded.Reason)}");
                return;
            }

            var run = lease.Run;
            var shard = lease.Shard;
            var digest = yielded.CheckpointDigest;
            var stored = digest.Length > 0 && _artifacts.Exists(digest);
            _metrics?.ShardPreempted(agentId);
            var attempt = lease.Attempt;
            attempt.Outcome = AttemptOutcomes.Preempted;
            attempt.EndedAt = Now;
            attempt.Error = $"yielded to rendering: {AgentText.Cut(yielded.Reason)}";
            attempt.CheckpointDigest = stored ? digest : null;
            attempt.Progress = yielded.SamplesTotal > 0 ? $"epoch {yielded.TrainingEpoch}, batch {yielded.BatchesDone}, {yielded.SamplesSeen}/{yielded.SamplesTotal} samples" : null;
            ReleaseLocked(lease);
            // A newer checkpoint supersedes an older one. Without a new one, an earlier checkpoint of this shard (if any)
            // still holds exact progress: this attempt never got past it or could not store its own.
            var previous = shard.ResumeCheckpointDigest;
            shard.ResumeCheckpointDigest = stored ? digest : previous;
            var lost = digest.Length > 0 && !stored ? $"checkpoint {digest[..12]} is not in the artifact store; " : digest.Length == 0 ? "no checkpoint; " : "";
            var outcome = stored
                ? $"checkpoint {digest[..12]} stored; the next lease resumes from it"
                : previous is not null ? $"{lost}the next lease resumes from the earlier checkpoint {previous[..12]}" : $"{lost}the shard restarts from scratch";
            LogShardPreempted(run.Id, lease.Round, shard.Index, agentId, AgentText.Cut(yielded.Reason), outcome);
            EventLocked(run, "shard-preempted",
                $"round {lease.Round} shard {shard.Index} handed back by {agentId} (yielded to rendering: {AgentText.Cut(yielded.Reason)}) at {attempt.Progress ?? "the start"}; {outcome}",
                shard.Index, agentId, facts: new JsonObject
                {
                    ["lease"] = lease.Id,
                    ["epoch"] = lease.Epoch,
                    ["reason"] = AgentText.Cut(yielded.Reason),
                    ["checkpoint"] = stored ? digest : null,
                    ["checkpointMissing"] = digest.Length > 0 && !stored,
                    ["progress"] = new JsonObject
                    {
                        ["trainingEpoch"] = yielded.TrainingEpoch,
                        ["batchesDone"] = yielded.BatchesDone,
                        ["samplesSeen"] = yielded.SamplesSeen,
                        ["samplesTotal"] = yielded.SamplesTotal,
                    },
                });
            if (!run.IsFinal)
            {
                RequeueLocked(run, shard, countsAsFailure: false, "preempted");
            }

            SaveLocked(run);
            DispatchLocked();
        }
    }

    /// <summary>Notes whether the agent's node yields to rendering (from its heartbeat); a node that became free is dispatched to. Caller holds the lock.</summary>
    private void ObserveYieldLocked(AgentState agent, AgentHeartbeat heartbeat)
    {
        var reason = heartbeat.Yielding ? (heartbeat.YieldReason.Length > 0 ? heartbeat.YieldReason : "yielded to rendering") : null;
        if (reason == agent.YieldReason)
        {
            return;
        }

        var was = agent.YieldReason;
        agent.YieldReason = reason;
        ChangedLocked(mustSee: true);
        if (reason is not null)
        {
            if (was is null)
            {
                LogAgentYielding(agent.Id, reason);
            }
        }
        else
        {
            LogAgentFree(agent.Id);
            DispatchLocked();
        }
    }

    /// <summary>
    /// Makes a new lease of a preempted shard resume from its checkpoint, or records that the store lost it and the shard
    /// restarts. Caller holds the lock; runs while the lease is granted, before the work is sent. Returns the checkpoint
    /// to resume from, empty to start afresh.
    /// </summary>
    private string ResumeCheckpointLocked(RunState run, ShardState shard, AttemptRecord attempt)
    {
        if (shard.ResumeCheckpointDigest is not { } digest)
        {
            return "";
        }

        if (_artifacts.Exists(digest))
        {
            attempt.ResumedFrom = digest;
            return digest;
        }

        shard.ResumeCheckpointDigest = null;
        LogCheckpointMissing(run.Id, run.Round, shard.Index, digest);
        EventLocked(run, "checkpoint-missing",
            $"round {run.Round} shard {shard.Index}: checkpoint {digest[..12]} is gone from the artifact store; attempt {attempt.Attempt} restarts the shard from the global weights",
            shard.Index, attempt.AgentId, facts: new JsonObject { ["checkpoint"] = digest, ["lease"] = attempt.LeaseId });
        return "";
    }

    /// <summary>After a coordinator restart: the checkpoint a queued shard resumes from (its latest stored one this round), as before the restart.</summary>
    private static string? ResumeCheckpointOf(IReadOnlyList<AttemptRecord> attempts) =>
        attempts.LastOrDefault(a => a.CheckpointDigest is not null)?.CheckpointDigest;

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} round {Round} shard {Shard} preempted on {AgentId} ({Reason}): {Outcome}")]
    private partial void LogShardPreempted(string runId, int round, int shard, string agentId, string reason, string outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Yield of lease {LeaseId} epoch {Epoch} from {AgentId} ignored: not its current lease")]
    private partial void LogYieldIgnored(string leaseId, long epoch, string agentId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {AgentId} yields its node to rendering ({Reason}): no leases until it is free")]
    private partial void LogAgentYielding(string agentId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {AgentId} is free again after yielding to rendering")]
    private partial void LogAgentFree(string agentId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} round {Round} shard {Shard}: checkpoint {Digest} is gone from the artifact store; the shard restarts")]
    private partial void LogCheckpointMissing(string runId, int round, int shard, string digest);
}
