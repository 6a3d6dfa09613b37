using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Execution.Transfers;
using RMTC.Farm.Agent.Execution.Workspace;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Yielding;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution;

/// <summary>
/// Runs one shard attempt end to end: its inputs fetched by digest (<see cref="InputFetcher"/>), its training by the
/// configured <see cref="IShardRunner"/> in the attempt's own <see cref="ShardWorkspace"/>, and what came of it sent on
/// (<see cref="ResultUploader"/>): a result uploaded, a checkpoint handed back, figures or a failure reported.
/// </summary>
public sealed partial class ShardExecutor(
    InputFetcher inputs,
    IShardRunner runner,
    ResultUploader uploader,
    IOptions<AgentOptions> options,
    TimeProvider time,
    ILogger<ShardExecutor> log)
{
    /// <summary>The agent is connected and may be leased work: a warm runner starts its trainers now.</summary>
    public void AgentConnected() => (runner as Trainer.WarmTrainerPool)?.Prestart();

    /// <summary>Runs the attempt; returns null on success (or when the coordinator no longer wants it), else the failure to report.</summary>
    public async Task<ShardFailed?> RunAsync(AgentService.AgentServiceClient client, string agentId, RunningShard shard, CancellationToken ct)
    {
        var a = shard.Assignment;
        shard.ReceivedAt = time.GetTimestamp();
        using var workspace = ShardWorkspace.For(options.Value.WorkDirectory, a.LeaseId);
        try
        {
            if (shard.YieldRequested.IsCancellationRequested)
            {
                shard.Yielded = Preemption.Yielded(a, shard.YieldReason, "", null);
                return null;
            }

            shard.Phase = "fetching";
            var fetched = await inputs.FetchAsync(client, a, ct);
            shard.Phase = "fetched";
            shard.InputsFetched?.Invoke();
            if (shard.YieldRequested.IsCancellationRequested)
            {
                // Rendering claimed the node before training began: nothing to keep, hand the shard straight back.
                shard.Yielded = Preemption.Yielded(a, shard.YieldReason, "", null);
                return null;
            }

            switch (await runner.RunAsync(new ShardAttempt(shard, fetched, workspace), ct))
            {
                case ShardRunFailed failed:
                    return failed.Failure;
                case ShardYieldedToRender yielded:
                    await HandBackAsync(client, agentId, shard, yielded.CheckpointPath, yielded.Position, ct);
                    return null;
                case ShardEvaluated evaluated:
                    shard.Evaluated = Report(a, evaluated.Figures);
                    return null;
                case ShardTrained trained:
                    shard.Phase = "uploading";
                    await uploader.UploadAsync(client, agentId, a, trained.WeightsPath, trained.Result, ct);
                    return null;
                case var other:
                    throw new InvalidOperationException($"unknown outcome of a shard run: {other}");
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return null;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition)
        {
            // Stale lease: the coordinator moved on (expiry, cancellation). Nothing to report.
            LogStale(a.LeaseId, e.Status.Detail);
            return null;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or JsonException or RpcException or UnauthorizedAccessException or HttpRequestException)
        {
            return ShardFailures.Of(a, e is RpcException r ? $"{r.StatusCode}: {r.Status.Detail}" : e.Message);
        }
    }

    /// <summary>
    /// Hands a yielded attempt back: uploads its checkpoint (lease-fenced, flagged as a checkpoint) and records the
    /// <see cref="ShardYielded"/> the worker sends. Without a stored checkpoint the next attempt restarts the shard.
    /// </summary>
    private async Task HandBackAsync(AgentService.AgentServiceClient client, string agentId, RunningShard shard, string? checkpoint, ShardYieldReport? report, CancellationToken ct)
    {
        var a = shard.Assignment;
        var digest = "";
        if (checkpoint is not null)
        {
            shard.Phase = "checkpointing";
            try
            {
                var summary = new ShardResult { Samples = report?.SamplesSeen ?? 0, FinalLoss = 0, EpochLosses = [], Seconds = 0, Device = "checkpoint" };
                digest = await uploader.UploadAsync(client, agentId, a, checkpoint, summary, ct, isCheckpoint: true);
            }
            catch (RpcException e) when (e.StatusCode is not StatusCode.FailedPrecondition and not StatusCode.Cancelled)
            {
                LogCheckpointUploadFailed(a.LeaseId, $"{e.StatusCode}: {e.Status.Detail}");
            }
        }

        LogYielded(a.LeaseId, shard.YieldReason, digest.Length > 0 ? digest : "none");
        shard.Yielded = Preemption.Yielded(a, shard.YieldReason, digest, report);
    }

    private static EvaluationReport Report(Assignment a, EvaluationFigures figures)
    {
        var report = new EvaluationReport
        {
            LeaseId = a.LeaseId,
            LeaseEpoch = a.LeaseEpoch,
            Loss = figures.Loss,
            Samples = (uint)figures.Samples,
            Seconds = figures.Seconds,
            Device = figures.Device,
        };
        if (figures.Accuracy is { } accuracy)
        {
            report.Accuracy = accuracy;
        }

        if (figures.Psnr is { } psnr)
        {
            report.Psnr = psnr;
        }

        return report;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: the checkpoint could not be uploaded ({Detail}); the shard will restart from scratch")]
    private partial void LogCheckpointUploadFailed(string leaseId, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId} yielded to rendering ({Reason}); checkpoint {Digest}")]
    private partial void LogYielded(string leaseId, string reason, string digest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId} is stale, result dropped: {Detail}")]
    private partial void LogStale(string leaseId, string detail);
}
