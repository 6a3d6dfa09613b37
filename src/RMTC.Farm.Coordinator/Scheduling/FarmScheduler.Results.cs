using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>Results: fencing of uploads by lease epoch, merging on arrival, and closing rounds.</summary>
public sealed partial class FarmScheduler
{
    // Leases whose result was accepted, so a repeated upload is answered as a duplicate rather than refused.
    private readonly Dictionary<string, string> _acceptedResults = new(StringComparer.Ordinal);

    /// <summary>Checks an upload's header against the lease it names.</summary>
    public UploadDecision CheckUpload(ResultUpload header)
    {
        lock (_gate)
        {
            return CheckLocked(header, out _);
        }
    }

    private UploadDecision CheckLocked(ResultUpload header, out Lease? lease)
    {
        lease = null;
        if (_acceptedResults.TryGetValue(header.LeaseId, out var accepted))
        {
            return accepted == header.Digest
                ? new UploadDecision(UploadVerdict.Duplicate, "this result was already accepted")
                : new UploadDecision(UploadVerdict.Stale, $"lease {header.LeaseId} already delivered a different result ({accepted[..12]})");
        }

        if (!_leases.TryGetValue(header.LeaseId, out lease))
        {
            return new UploadDecision(UploadVerdict.Stale, $"lease {header.LeaseId} is not active (it expired, was superseded by a newer epoch, or its run ended): the result is discarded");
        }

        if (lease.Epoch != header.LeaseEpoch)
        {
            return new UploadDecision(UploadVerdict.Stale, $"lease {header.LeaseId} has epoch {lease.Epoch}, the upload carries {header.LeaseEpoch}: stale result refused");
        }

        if (lease.Agent.Id != header.AgentId)
        {
            return new UploadDecision(UploadVerdict.Stale, $"lease {header.LeaseId} belongs to agent {lease.Agent.Id}, not {header.AgentId}");
        }

        if (!lease.Shard.Holds(lease) || lease.Shard.Phase != ShardPhase.Leased || lease.Run.IsFinal)
        {
            return new UploadDecision(UploadVerdict.Stale, $"shard {lease.Shard.Index} of round {lease.Round} is no longer waiting for lease {header.LeaseId}");
        }

        return new UploadDecision(UploadVerdict.Accept, "");
    }

    /// <summary>Records that an upload of a current lease was refused (corrupt bytes): the shard is queued again.</summary>
    public void RefuseUpload(ResultUpload header, string reason)
    {
        lock (_gate)
        {
            if (CheckLocked(header, out var lease).Verdict != UploadVerdict.Accept || lease is null)
            {
                return;
            }

            RefuseLocked(lease, reason);
        }
    }

    private void RefuseLocked(Lease lease, string reason)
    {
        _metrics?.ResultRefused(lease.Agent.Id);
        if (lease.Shard.Task is not null)
        {
            TaskFailedLocked(lease, reason, AttemptOutcomes.Refused);
            return;
        }

        lease.Attempt.Outcome = AttemptOutcomes.Refused;
        lease.Attempt.EndedAt = Now;
        lease.Attempt.Error = reason;
        ReleaseLocked(lease);
        LogResultRefused(lease.Run.Id, lease.Round, lease.Shard.Index, lease.Agent.Id, reason);
        EventLocked(lease.Run, "result-refused", $"round {lease.Round} shard {lease.Shard.Index} from {lease.Agent.Id} refused: {reason}", lease.Shard.Index, lease.Agent.Id,
            facts: new JsonObject { ["lease"] = lease.Id, ["epoch"] = lease.Epoch });
        RequeueLocked(lease.Run, lease.Shard, countsAsFailure: true, reason);
        SaveLocked(lease.Run);
        DispatchLocked();
    }

    /// <summary>
    /// A stored, digest-verified result: claims the shard, folds the weights into the round's running sum
    /// (refusing invalid weights without touching the sum), and closes the round when it was the last shard.
    /// </summary>
    /// <param name="header">The upload's header (lease, epoch, digest, metrics); its digest names the stored result.</param>
    /// <param name="valuesChecked">
    /// Every value was found finite as the upload arrived (<see cref="SafetensorsFiniteCheck"/>): the merge reads the data
    /// once. Otherwise it is validated in full first, which also words the refusal.
    /// </param>
    public async Task<UploadDecision> CompleteAsync(ResultUpload header, bool valuesChecked = false)
    {
        Lease lease;
        lock (_gate)
        {
            var decision = CheckLocked(header, out var found);
            if (decision.Verdict != UploadVerdict.Accept || found is null)
            {
                if (decision.Verdict == UploadVerdict.Stale && found is not null)
                {
                    LogResultRefused(found.Run.Id, found.Round, found.Shard.Index, header.AgentId, decision.Reason);
                }

                return decision;
            }

            lease = found;
            lease.Shard.Phase = ShardPhase.Completing;
            if (ReferenceEquals(lease.Shard.Backup, lease))
            {
                // The speculative attempt finished first: it is the one the shard now waits on (a refusal hands it back).
                (lease.Shard.Lease, lease.Shard.Backup) = (lease, lease.Shard.Lease);
            }
        }

        if (lease.Shard.Task is not null)
        {
            // A task's upload: only a preparation uploads (its initial weights); nothing is merged.
            return await CompletePreparationAsync(lease, header, valuesChecked);
        }

        var run = lease.Run;
        Task saved;
        await run.Merge.Gate.WaitAsync();
        try
        {
            // The planned shard size is the merge weight: an agent cannot inflate its own influence.
            var weight = run.Plan[lease.Shard.Index].Length;
            if (!run.Merge.IsOpen)
            {
                // The run ended while this result waited for the gate, and its merge state is gone.
                return new UploadDecision(UploadVerdict.Stale, $"run {run.Id} is {run.Manifest.State}");
            }

            try
            {
                // Folded now if every lower shard is, else when they are or the round closes (shard order, not arrival).
                run.Merge.Add(lease.Shard.Index, header.Digest, weight, valuesChecked);
            }
            catch (Exception e) when (e is WeightsRejectedException or SafetensorsFormatException)
            {
                lock (_gate)
                {
                    lease.Shard.Phase = ShardPhase.Leased;
                    RefuseLocked(lease, e.Message);
                }

                return new UploadDecision(UploadVerdict.Rejected, e.Message);
            }

            bool roundDone;
            lock (_gate)
            {
                if (run.IsFinal)
                {
                    // Cancelled or failed while this result was merging: the run's record already says how it ended.
                    return new UploadDecision(UploadVerdict.Stale, $"run {run.Id} is {run.Manifest.State}");
                }

                var attempt = lease.Attempt;
                attempt.Outcome = AttemptOutcomes.Succeeded;
                attempt.EndedAt = Now;
                attempt.Samples = header.Samples;
                attempt.ResultDigest = header.Digest;
                attempt.FinalLoss = header.FinalLoss;
                attempt.Device = AgentText.Cut(header.Device);
                lease.Shard.Phase = ShardPhase.Done;
                lease.Shard.ResultDigest = header.Digest;
                run.CurrentRound.Shards[lease.Shard.Index].ResultDigest = header.Digest;
                run.CurrentRound.MergedResults.Add(header.Digest);
                run.LossSum += header.FinalLoss * weight;
                run.SamplesMerged += weight;
                _acceptedResults[lease.Id] = header.Digest;
                _metrics?.ShardCompleted(lease.Agent.Id);
                run.PendingIndex.Add(new LineageIndexEntry(LineageIndexKinds.Weights, header.Digest, run.Id));
                ReleaseLocked(lease);
                if (lease.Shard.Lease is { } other)
                {
                    // A straggler and its speculative twin: the first valid result won; the other stops.
                    CancelLeaseLocked(other, $"round {lease.Round} shard {lease.Shard.Index}: the result of epoch {lease.Epoch} on {lease.Agent.Id} was merged first");
                    EventLocked(run, "lease-cancelled", $"round {lease.Round} shard {lease.Shard.Index}: epoch {other.Epoch} on {other.Agent.Id} cancelled, epoch {lease.Epoch} on {lease.Agent.Id} delivered first", lease.Shard.Index, other.Agent.Id,
                        facts: new JsonObject { ["lease"] = other.Id, ["epoch"] = other.Epoch, ["winner"] = lease.Id });
                }

                EventLocked(run, "shard-completed", $"round {lease.Round} shard {lease.Shard.Index} merged from {lease.Agent.Id}: loss {header.FinalLoss:G4}, {weight} samples, {header.TrainSeconds:F1} s on {header.Device}", lease.Shard.Index, lease.Agent.Id,
                    facts: new JsonObject { ["lease"] = lease.Id, ["epoch"] = lease.Epoch, ["result"] = header.Digest, ["samples"] = weight, ["loss"] = header.FinalLoss, ["trainSeconds"] = header.TrainSeconds, ["device"] = header.Device });
                roundDone = !run.IsFinal && run.Tally.Done == run.Shards.Length;
                if (!roundDone && QuorumDueLocked(run))
                {
                    // Past its deadline, this result completed the quorum: the round closes without the shards still out.
                    roundDone = CloseAtQuorumLocked(run);
                }

                saved = SaveLocked(run);
                DispatchLocked();
            }

            if (roundDone)
            {
                CloseRound(run);
            }
        }
        finally
        {
            run.Merge.Gate.Release();
        }

        // The agent hears "accepted" only once the record of it is durable. The merge gate is already free: the next
        // result folds while this one's record is written, and the journal writes their records together.
        await saved;
        return new UploadDecision(UploadVerdict.Accept, "");
    }

    /// <summary>Finishes the round's average, applies the merge strategy, stores the merged weights, starts the next round. Caller holds the run's merge gate.</summary>
    private void CloseRound(RunState run)
    {
        var mergeStarted = _time.GetTimestamp();
        var (digest, bytes, tensorsDigest, momentumDigest) = run.Merge.Close(run.Round, run.GlobalDigest);
        var spec = run.Spec;

        lock (_gate)
        {
            if (run.IsFinal)
            {
                return;
            }

            var round = run.CurrentRound;
            round.OutputDigest = digest;
            round.OutputTensorsDigest = tensorsDigest;
            round.MomentumDigest = momentumDigest;
            if (round.Quorum is { } closure)
            {
                // A round with eaten shards closes without them: its record counts what the merge took.
                closure.Merged = round.MergedResults.Count;
            }

            run.PendingIndex.Add(new LineageIndexEntry(LineageIndexKinds.Weights, digest, run.Id));
            round.EndedAt = Now;
            _metrics?.RoundClosed((round.EndedAt.Value - round.StartedAt).TotalSeconds, _time.GetElapsedTime(mergeStarted).TotalSeconds, spec.Recipe);
            round.MeanLoss = run.SamplesMerged > 0 ? run.LossSum / run.SamplesMerged : null;
            // Evaluated by an agent while the next round trains (FarmScheduler.Tasks.cs); the figures land on this round.
            var evaluating = QueueEvaluationLocked(run, run.Round, digest, bytes);
            LogRoundMerged(run.Id, run.Round, spec.Rounds, round.MergedResults.Count, round.MeanLoss ?? double.NaN, digest);
            var facts = new JsonObject
            {
                ["input"] = round.InputDigest,
                ["output"] = digest,
                ["strategy"] = spec.Merge.Strategy,
                ["merged"] = new JsonArray(round.MergedResults.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
            };
            EventLocked(run, "round-merged", $"round {run.Round}/{spec.Rounds} merged {round.MergedResults.Count} results ({spec.Merge.Strategy}): mean loss {round.MeanLoss:G4}, weights {Short(digest)}{(evaluating ? "; evaluation queued" : "")}",
                facts: facts);
            if (run.Round < spec.Rounds)
            {
                StartRoundLocked(run, run.Round + 1, digest, bytes);
                DispatchLocked();
            }
            else
            {
                run.Manifest.FinalModelDigest = digest;
                run.Manifest.FinalModelTensorsDigest = tensorsDigest;
                // The run is sealed with every round's figures: it ends when its last evaluation is in.
                run.AwaitingEvaluations = true;
                FinishIfEvaluatedLocked(run);
                if (!run.IsFinal)
                {
                    SaveLocked(run);
                    DispatchLocked();
                }
            }
        }
    }

    /// <summary>
    /// Drops an ended run's merge state (running sum, spare arrays, momentum) once no merge holds it:
    /// a coordinator serves for months and must not keep a model's worth of arrays for every run it has finished.
    /// </summary>
    private static async Task ReleaseMergeStateAsync(RunState run)
    {
        await run.Merge.Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            run.Merge.Release();
        }
        finally
        {
            run.Merge.Gate.Release();
        }
    }

    private static string DescribeEvaluation(RunState run, RoundEvaluation? e) => e is null
        ? ""
        : string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"; {run.Manifest.Evaluation?.Split ?? "eval"} loss {e.Loss:G4}{(e.Accuracy is { } a ? $", accuracy {a * 100:F2} %" : "")}{(e.Psnr is { } p ? $", PSNR {p:F2} dB" : "")}");

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} round {Round}: evaluation loss {Loss:G4}, accuracy {Accuracy:G4}, PSNR {Psnr:G4} on {Samples} samples in {Seconds:F1} s")]
    private partial void LogRoundEvaluated(string runId, int round, double loss, double accuracy, double psnr, int samples, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} round {Round}: evaluation failed, the round stays unevaluated: {Reason}")]
    private partial void LogEvaluationFailed(string runId, int round, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} round {Round} shard {Shard}: result from {AgentId} refused: {Reason}")]
    private partial void LogResultRefused(string runId, int round, int shard, string agentId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} round {Round}/{Rounds}: merged {Results} results, mean loss {Loss:G4}, weights {Digest}")]
    private partial void LogRoundMerged(string runId, int round, int rounds, int results, double loss, string digest);
}
