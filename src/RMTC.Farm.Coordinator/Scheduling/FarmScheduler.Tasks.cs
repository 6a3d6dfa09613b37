using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Planning;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// A run's training-side tasks, leased to agents like shards so that the coordinator loads no model code: the run's
/// preparation (its initial weights, built from the run's seed by the agent's trainer and uploaded like a result; round 1
/// starts once they are stored) and each round's evaluation on the held-out split (queued when the round is merged, run
/// while the next round trains, reported on the session; the run ends once the last one is in).
/// </summary>
/// <remarks>
/// A task's lease goes through the same slot, epoch reservation, fencing, expiry and reconciliation as a shard's: its
/// <see cref="RunTask.Slot"/> is a shard state of its own. A lost lease (expiry, a node yielding, an agent that no longer
/// runs it) queues the task again; a failure counts against the job's <c>max_retries</c>. A preparation that runs out of
/// retries fails the run; an evaluation that does leaves its round unevaluated, never failing the run (as before).
/// </remarks>
public sealed partial class FarmScheduler
{
    /// <summary>Queues the run's preparation. Caller holds the lock (and saves).</summary>
    private void QueuePrepareLocked(RunState run) => QueueTaskLocked(run, TaskKinds.Prepare, 0, null, 0);

    /// <summary>Queues the evaluation of round <paramref name="round"/>'s merged weights when the run has an evaluation split. Caller holds the lock.</summary>
    private bool QueueEvaluationLocked(RunState run, int round, string digest, long bytes)
    {
        if (run.EvaluationIndices.Length == 0)
        {
            return false;
        }

        QueueTaskLocked(run, TaskKinds.Evaluate, round, digest, bytes);
        return true;
    }

    private RunTask QueueTaskLocked(RunState run, string kind, int round, string? input, long inputBytes, TaskRecord? record = null)
    {
        if (record is null)
        {
            record = new TaskRecord { Kind = kind, Round = round, InputDigest = input, QueuedAt = Now };
            (run.Manifest.Tasks ??= new()).Add(record);
        }

        // Epochs rise above every one the run granted so far, so no lease id and epoch is ever handed out twice.
        var task = new RunTask(kind, round, input, inputBytes, record, run.EpochHighWater);
        task.Slot.QueuedAt = Now;
        run.Tasks.Add(task);
        return task;
    }

    /// <summary>Leases the run's queued tasks to free agents that fit (ahead of its shards: they are short and unblock the run). Caller holds the lock.</summary>
    private void DispatchTasksLocked(RunState run, List<AgentState> free)
    {
        foreach (var task in run.Tasks)
        {
            if (free.Count == 0)
            {
                return;
            }

            if (task.Slot.Phase != ShardPhase.Queued)
            {
                continue;
            }

            if (!EpochReadyLocked(run, task.Slot))
            {
                return; // its reservation lands soon and dispatches again
            }

            var pick = free.FindIndex(a => Fits(a, run));
            if (pick < 0)
            {
                return;
            }

            var agent = free[pick];
            free.RemoveAt(pick);
            GrantTaskLocked(agent, run, task);
            if (agent.FreeSlots > 0)
            {
                int at = free.BinarySearch(agent, ByLoad);
                free.Insert(at < 0 ? ~at : at, agent);
            }
        }
    }

    private void GrantTaskLocked(AgentState agent, RunState run, RunTask task)
    {
        var slot = task.Slot;
        var epoch = TakeEpochLocked(run, slot);
        slot.Attempts++;
        var now = Now;
        var attempt = new AttemptRecord
        {
            Shard = -1,
            Attempt = slot.Attempts,
            AgentId = agent.Id,
            LeaseId = task.LeaseId(run, epoch),
            LeaseEpoch = epoch,
            StartedAt = now,
        };
        var lease = new Lease { Id = attempt.LeaseId, Epoch = epoch, Run = run, Round = task.Round, Shard = slot, Agent = agent, Attempt = attempt, GrantedAt = now };
        task.Record.Attempts.Add(attempt);
        slot.Phase = ShardPhase.Leased;
        slot.Lease = lease;
        agent.AddLease(lease);
        agent.LastAssigned = now;
        _leases[lease.Id] = lease;
        if (run.Manifest.State == RunStates.Queued)
        {
            run.Manifest.State = RunStates.Running;
        }

        var prepare = task.Kind == TaskKinds.Prepare;
        var order = new WorkOrder(
            prepare ? WorkKind.Prepare : WorkKind.Evaluate,
            lease.Id,
            epoch,
            run.Id,
            task.Round,
            0,
            slot.Attempts,
            run.Spec.Recipe,
            run.Manifest.Dataset.Path,
            run.Manifest.Dataset.Digest,
            prepare ? [] : run.EvaluationIndices,
            prepare ? "" : task.InputDigest!,
            prepare ? 0 : task.InputBytes,
            prepare ? run.Manifest.Seeds.Init : 0,
            0,
            0,
            0) { Model = ModelAssignments.ModelOf(run) };
        agent.Outbox!.Writer.TryWrite(new AssignWork(order));
        LogTaskLeased(run.Id, task.Name, epoch, agent.Id);
        var facts = new JsonObject { ["lease"] = lease.Id, ["epoch"] = epoch, ["task"] = task.Kind };
        if (task.InputDigest is not null)
        {
            facts["input"] = task.InputDigest;
        }

        EventLocked(run, "task-leased", $"{task.Name} leased to {agent.Id} (attempt {slot.Attempts}, epoch {epoch})", agentId: agent.Id, facts: facts);
        SaveLocked(run);
    }

    /// <summary>An evaluation's figures from the agent that ran it: recorded on its round, unless the lease is stale.</summary>
    public void EvaluationReported(string agentId, EvaluationOutcome report)
    {
        lock (_gate)
        {
            if (!_leases.TryGetValue(report.LeaseId, out var lease) || lease.Agent.Id != agentId || lease.Epoch != report.LeaseEpoch
                || lease.Shard.Task is not { Kind: TaskKinds.Evaluate } task || !lease.Shard.Holds(lease) || lease.Shard.Phase != ShardPhase.Leased)
            {
                LogTaskReportIgnored(report.LeaseId, report.LeaseEpoch, agentId);
                return;
            }

            var run = lease.Run;
            var attempt = lease.Attempt;
            attempt.Outcome = AttemptOutcomes.Succeeded;
            attempt.EndedAt = Now;
            attempt.Samples = report.Samples;
            attempt.Device = AgentText.Cut(report.Device);
            ReleaseLocked(lease);
            EndTaskLocked(run, task, null);
            var evaluation = new RoundEvaluation
            {
                Loss = report.Loss,
                Accuracy = report.Accuracy,
                Psnr = report.Psnr,
                Samples = report.Samples,
                Seconds = report.Seconds,
            };
            run.Manifest.Rounds[task.Round - 1].Evaluation = evaluation;
            LogRoundEvaluated(run.Id, task.Round, evaluation.Loss, evaluation.Accuracy ?? double.NaN, evaluation.Psnr ?? double.NaN, evaluation.Samples, evaluation.Seconds);
            EventLocked(run, "round-evaluated", $"round {task.Round}/{run.Spec.Rounds} evaluated on {agentId}{DescribeEvaluation(run, evaluation)} ({evaluation.Samples} samples, {evaluation.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s on {attempt.Device})",
                agentId: agentId, facts: new JsonObject
                {
                    ["lease"] = lease.Id,
                    ["epoch"] = lease.Epoch,
                    ["input"] = task.InputDigest,
                    ["evaluated"] = task.Round,
                    ["evaluation"] = new JsonObject { ["loss"] = evaluation.Loss, ["accuracy"] = evaluation.Accuracy, ["psnr"] = evaluation.Psnr, ["samples"] = evaluation.Samples },
                });
            FinishIfEvaluatedLocked(run);
            SaveLocked(run);
            DispatchLocked();
        }
    }

    /// <summary>
    /// The preparation's upload, stored and digest-checked: its weights become round 1's input and the run's template,
    /// and the run's shards are queued. Called by <see cref="CompleteAsync"/> outside the lock.
    /// </summary>
    private async Task<UploadDecision> CompletePreparationAsync(Lease lease, ResultUpload header, bool valuesChecked)
    {
        var run = lease.Run;
        if (lease.Shard.Task?.Kind != TaskKinds.Prepare)
        {
            lock (_gate)
            {
                lease.Shard.Phase = ShardPhase.Leased;
            }

            return new UploadDecision(UploadVerdict.Stale, $"lease {lease.Id} is an evaluation: it reports figures on the session and uploads nothing");
        }

        SafetensorsHeader template;
        string tensorsDigest;
        string? problem = null;
        try
        {
            template = _artifacts.ReadWeightsHeader(header.Digest);
            var weights = _artifacts.ReadWeights(header.Digest).Tensors;
            tensorsDigest = TensorsDigest.Of(weights);
            if (weights.Count == 0)
            {
                problem = "the initial weights hold no tensor";
            }
            else if (!valuesChecked)
            {
                problem = "the initial weights hold values that are not finite";
            }
        }
        catch (Exception e) when (e is SafetensorsFormatException or InvalidDataException)
        {
            template = run.Template;
            tensorsDigest = "";
            problem = e.Message;
        }

        Task saved;
        lock (_gate)
        {
            if (problem is not null)
            {
                lease.Shard.Phase = ShardPhase.Leased;
                RefuseLocked(lease, problem);
                return new UploadDecision(UploadVerdict.Rejected, problem);
            }

            if (run.IsFinal || lease.Shard.Task is not { } task)
            {
                return new UploadDecision(UploadVerdict.Stale, $"run {run.Id} is {run.Manifest.State}");
            }

            var attempt = lease.Attempt;
            attempt.Outcome = AttemptOutcomes.Succeeded;
            attempt.EndedAt = Now;
            attempt.ResultDigest = header.Digest;
            attempt.Device = AgentText.Cut(header.Device);
            _acceptedResults[lease.Id] = header.Digest;
            ReleaseLocked(lease);
            EndTaskLocked(run, task, null);
            task.Record.OutputDigest = header.Digest;
            LogRunPrepared(run.Id, lease.Agent.Id, header.Digest);
            EventLocked(run, "prepared", $"initial weights {Short(header.Digest)} built by {lease.Agent.Id} in {header.TrainSeconds.ToString("F1", CultureInfo.InvariantCulture)} s",
                agentId: lease.Agent.Id, facts: new JsonObject { ["lease"] = lease.Id, ["epoch"] = lease.Epoch, ["initialWeights"] = header.Digest, ["tensors"] = tensorsDigest });
            StartPreparedLocked(run, header.Digest, header.TotalBytes, template, tensorsDigest, header.TorchSharpVersion);
            saved = SaveLocked(run);
            DispatchLocked();
        }

        await saved;
        return new UploadDecision(UploadVerdict.Accept, "");
    }

    /// <summary>The run's initial weights are stored: they become its template and round 1's input. Caller holds the lock.</summary>
    private void StartPreparedLocked(RunState run, string digest, long bytes, SafetensorsHeader template, string tensorsDigest, string torchSharpVersion)
    {
        run.Template = template;
        run.Manifest.InitialWeightsDigest = digest;
        run.Manifest.InitialWeightsTensorsDigest = tensorsDigest;
        if (torchSharpVersion.Length > 0)
        {
            run.Manifest.Code.TorchSharpVersion = AgentText.Cut(torchSharpVersion);
        }

        run.PendingIndex.Add(new LineageIndexEntry(LineageIndexKinds.Weights, digest, run.Id));
        StartRoundLocked(run, 1, digest, bytes);
    }

    /// <summary>
    /// A task's attempt failed (the trainer crashed, its upload was refused): it counts against the job's retries, unless
    /// its input is refused (<paramref name="inputRefused"/>: a model file that fails its check), which no retry mends.
    /// </summary>
    private void TaskFailedLocked(Lease lease, string reason, string outcome, bool inputRefused = false)
    {
        var run = lease.Run;
        var task = lease.Shard.Task!;
        lease.Attempt.Outcome = outcome;
        lease.Attempt.EndedAt = Now;
        lease.Attempt.Error = reason;
        ReleaseLocked(lease);
        LogTaskFailed(run.Id, task.Name, lease.Agent.Id, reason);
        EventLocked(run, "task-failed", $"{task.Name} failed on {lease.Agent.Id}: {reason}", agentId: lease.Agent.Id,
            facts: new JsonObject { ["lease"] = lease.Id, ["epoch"] = lease.Epoch, ["task"] = task.Kind });
        if (!run.IsFinal)
        {
            task.Slot.Failures++;
            if (inputRefused)
            {
                GiveUpTaskLocked(run, task, reason);
            }
            else if (task.Slot.Failures > run.MaxRetries)
            {
                GiveUpTaskLocked(run, task, $"failed {task.Slot.Failures} times (max_retries {run.MaxRetries}); last error: {reason}");
            }
            else
            {
                RequeueTaskLocked(task);
            }
        }

        SaveLocked(run);
        DispatchLocked();
    }

    /// <summary>A task's lease ended without a verdict (expired, no longer run by its agent, yielded to rendering): queued again, no failure counted.</summary>
    private void TaskLostLocked(Lease lease, string outcome, string why)
    {
        var run = lease.Run;
        var task = lease.Shard.Task!;
        var current = lease.Shard.Holds(lease) && lease.Shard.Phase == ShardPhase.Leased;
        lease.Attempt.Outcome = outcome;
        lease.Attempt.EndedAt = Now;
        lease.Attempt.Error = why;
        ReleaseLocked(lease);
        EventLocked(run, outcome == AttemptOutcomes.Preempted ? "task-preempted" : "lease-expired", $"{task.Name}: lease epoch {lease.Epoch} on {lease.Agent.Id} ended ({why}); queued again", agentId: lease.Agent.Id,
            facts: new JsonObject { ["lease"] = lease.Id, ["epoch"] = lease.Epoch, ["task"] = task.Kind });
        if (current && !run.IsFinal)
        {
            RequeueTaskLocked(task);
        }

        SaveLocked(run);
        DispatchLocked();
    }

    private void RequeueTaskLocked(RunTask task)
    {
        task.Slot.Phase = ShardPhase.Queued;
        task.Slot.QueuedAt = Now;
    }

    private void GiveUpTaskLocked(RunState run, RunTask task, string why)
    {
        EndTaskLocked(run, task, why);
        if (task.Kind == TaskKinds.Prepare)
        {
            FinishRunLocked(run, RunStates.Failed, $"the run's initial weights could not be built: {why}");
            return;
        }

        // As before: an evaluation only ever costs its round the figures, never the run.
        LogEvaluationFailed(run.Id, task.Round, why);
        EventLocked(run, "evaluation-failed", $"{task.Name} {why}; the round stays unevaluated", facts: new JsonObject { ["evaluated"] = task.Round });
        FinishIfEvaluatedLocked(run);
    }

    private void EndTaskLocked(RunState run, RunTask task, string? error)
    {
        task.Slot.Phase = ShardPhase.Done;
        task.Record.EndedAt = Now;
        task.Record.Error = error;
        run.Tasks.Remove(task);
    }

    /// <summary>Ends a run whose last round is merged once no evaluation is pending. Caller holds the lock.</summary>
    private void FinishIfEvaluatedLocked(RunState run)
    {
        if (run.AwaitingEvaluations && !run.IsFinal && run.Tasks.Count == 0)
        {
            run.AwaitingEvaluations = false;
            FinishRunLocked(run, RunStates.Succeeded, null);
        }
    }

    /// <summary>Stops the run's leased tasks and drops its queued ones (the run ended). Caller holds the lock.</summary>
    private void CancelTasksLocked(RunState run, string why)
    {
        foreach (var task in run.Tasks.ToList())
        {
            if (task.Slot.Lease is { } lease)
            {
                CancelLeaseLocked(lease, why);
            }

            if (task.Record.EndedAt is null)
            {
                task.Record.EndedAt = Now;
                task.Record.Error = why;
            }

            task.Slot.Phase = ShardPhase.Done;
        }

        run.Tasks.Clear();
    }

    /// <summary>
    /// A recovered run's tasks not yet done, from its manifest: queued again, and the attempts that were running restored
    /// as leases so their agents can still deliver (as for shards). Caller holds the lock, after the run's epochs are reserved.
    /// </summary>
    private void RestoreTasksLocked(RunState run)
    {
        foreach (var record in run.Manifest.Tasks ?? [])
        {
            if (record.EndedAt is not null)
            {
                continue;
            }

            var bytes = record.InputDigest is { } input ? _artifacts.SizeOf(input) : 0;
            var task = QueueTaskLocked(run, record.Kind, record.Round, record.InputDigest, bytes, record);
            task.Slot.Attempts = record.Attempts.Count;
            task.Slot.Failures = record.Attempts.Count(a => a.Outcome is AttemptOutcomes.Failed or AttemptOutcomes.Refused);
            if (record.Attempts.LastOrDefault(a => a.Outcome == AttemptOutcomes.Running) is { } running)
            {
                RestoreLeaseLocked(run, task.Slot, running);
            }
        }
    }

    /// <summary>
    /// Submits a spec whose initial weights are built in this process by <paramref name="initialWeights"/> (the spec, the
    /// run's init seed), instead of by an agent: for tests and benchmarks of scheduling that run without trainers. The
    /// weights take the same path as a preparation's upload from there on.
    /// </summary>
    internal RunStatus SubmitPreparedInProcess(JobSubmission request, Func<JobSpec, long, IReadOnlyList<NamedTensor>> initialWeights)
    {
        var source = string.IsNullOrWhiteSpace(request.SourceName) ? "job spec" : request.SourceName;
        var baseDir = string.IsNullOrWhiteSpace(request.BaseDirectory) ? Environment.CurrentDirectory : request.BaseDirectory;
        var prepared = RunPreparation.Prepare(RunPreparation.ParseSubmitted(request.SpecYaml, source, baseDir), source, request.SubmittedBy, _artifacts, Now);
        var weights = initialWeights(prepared.Spec, prepared.Manifest.Seeds.Init);
        var stored = _artifacts.PutWeights(weights, new Dictionary<string, string>
        {
            ["rmtc.run"] = prepared.Manifest.RunId,
            ["rmtc.recipe"] = prepared.Spec.Recipe,
            ["rmtc.kind"] = "initial",
        });
        var template = _artifacts.ReadWeightsHeader(stored.Digest);
        lock (_gate)
        {
            return EnqueueLocked(prepared, (stored.Digest, stored.Length, template, TensorsDigest.Of(weights)));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: {Task} leased with epoch {Epoch} to agent {AgentId}")]
    private partial void LogTaskLeased(string runId, string task, long epoch, string agentId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: {Task} failed on {AgentId}: {Reason}")]
    private partial void LogTaskFailed(string runId, string task, string agentId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: initial weights {Digest} built by agent {AgentId}")]
    private partial void LogRunPrepared(string runId, string agentId, string digest);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Evaluation report for lease {LeaseId} epoch {Epoch} from {AgentId} ignored: the lease is not current")]
    private partial void LogTaskReportIgnored(string leaseId, long epoch, string agentId);
}
