using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Metrics;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Coordinator.Intake;

/// <summary>
/// Owns an upload from its lease check to its durable record: the fence (lease, epoch, agent), the size bound before
/// a byte is read, the digest and the finite-value check as bytes stream into the store, and the hand-off to the merge,
/// whose "accepted" comes only once the record is stored. Results, initial weights and preemption checkpoints all come
/// this way; every refusal of a current lease is recorded on its attempt.
/// </summary>
public sealed partial class ResultIntake(FarmScheduler scheduler, IArtifactStore artifacts, FarmMetrics metrics, IOptions<SecurityOptions> security, ILogger<ResultIntake> log)
{
    /// <summary>Receives one upload: <paramref name="header"/> first, then its bytes in <paramref name="chunks"/>.</summary>
    public async Task<IntakeOutcome> ReceiveAsync(ResultUpload header, IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, CancellationToken cancellationToken)
    {
        if (!Sha256Digest.IsValid(header.Digest))
        {
            return new IntakeOutcome(IntakeVerdict.Invalid, "", $"header digest '{header.Digest}' is not a sha256 digest");
        }

        var decision = scheduler.CheckUpload(header);
        switch (decision.Verdict)
        {
            case UploadVerdict.Duplicate:
                return new IntakeOutcome(IntakeVerdict.Duplicate, header.Digest, "");
            case UploadVerdict.Stale:
                LogUploadRefused(header.LeaseId, header.AgentId, decision.Reason);
                return new IntakeOutcome(IntakeVerdict.Stale, "", decision.Reason);
        }

        // Before any chunk is read: a header claiming far more than the run's weights would fill the disk.
        var expected = scheduler.ExpectedUploadBytes(header.LeaseId);
        return header.Checkpoint
            ? await ReceiveCheckpointAsync(header, expected, chunks, cancellationToken)
            : await ReceiveResultAsync(header, expected, chunks, cancellationToken);
    }

    private async Task<IntakeOutcome> ReceiveResultAsync(ResultUpload header, long? expected, IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, CancellationToken ct)
    {
        // A preparation (no expected size yet: the run's first weights) is bounded by its own setting.
        if ((expected is { } weightBytes
                ? JobLimits.UploadTooLarge(header.TotalBytes, weightBytes, security.Value.UploadHeadroomBytes)
                : JobLimits.InitialWeightsTooLarge(header.TotalBytes, security.Value.MaxInitialWeightsBytes)) is { } tooLarge)
        {
            return Refuse(header, IntakeVerdict.TooLarge, tooLarge);
        }

        StoredArtifact stored;
        var check = new SafetensorsFiniteCheck(header.TotalBytes);
        try
        {
            await using var put = artifacts.BeginPut(ArtifactKind.Weights, header.Digest);
            await CopyAsync(put, chunks, header.TotalBytes, check, ct);
            stored = await put.CommitAsync(header.Digest, header.TotalBytes, ct);
        }
        catch (ArtifactMismatchException e)
        {
            return Refuse(header, IntakeVerdict.Corrupt,
                $"upload corrupt: header says {header.TotalBytes} bytes with sha256 {header.Digest}, received {e.ActualLength} bytes hashing to {e.ActualDigest}");
        }
        catch (InvalidDataException e)
        {
            return Refuse(header, IntakeVerdict.Invalid, e.Message);
        }

        metrics.WeightsTransferred(stored.Length, "upload");
        var decision = await scheduler.CompleteAsync(header, valuesChecked: check.IsClean);
        return decision.Verdict switch
        {
            UploadVerdict.Accept => new IntakeOutcome(IntakeVerdict.Accepted, stored.Digest, ""),
            UploadVerdict.Duplicate => new IntakeOutcome(IntakeVerdict.Duplicate, stored.Digest, ""),
            UploadVerdict.Rejected => new IntakeOutcome(IntakeVerdict.Rejected, "", decision.Reason),
            _ => new IntakeOutcome(IntakeVerdict.Stale, "", decision.Reason),
        };
    }

    /// <summary>
    /// A preemption checkpoint: fenced like a result, size and digest verified, stored content-addressed, never merged.
    /// The yield that follows on the agent's session names its digest. A refusal is not a failure of the shard: without
    /// a checkpoint its next lease restarts it.
    /// </summary>
    private async Task<IntakeOutcome> ReceiveCheckpointAsync(ResultUpload header, long? weightBytes, IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, CancellationToken ct)
    {
        if (weightBytes is { } expected && JobLimits.CheckpointTooLarge(header.TotalBytes, expected, security.Value.UploadHeadroomBytes) is { } tooLarge)
        {
            LogUploadRefused(header.LeaseId, header.AgentId, tooLarge);
            return new IntakeOutcome(IntakeVerdict.TooLarge, "", tooLarge);
        }

        StoredArtifact stored;
        try
        {
            await using var put = artifacts.BeginPut(ArtifactKind.Weights);
            await CopyAsync(put, chunks, header.TotalBytes, check: null, ct);
            stored = await put.CommitAsync(header.Digest, header.TotalBytes, ct);
        }
        catch (ArtifactMismatchException e)
        {
            return new IntakeOutcome(IntakeVerdict.Corrupt, "",
                $"checkpoint corrupt: header says {header.TotalBytes} bytes with sha256 {header.Digest}, received {e.ActualLength} bytes hashing to {e.ActualDigest}");
        }
        catch (InvalidDataException e)
        {
            return new IntakeOutcome(IntakeVerdict.Invalid, "", "checkpoint refused: " + e.Message);
        }

        metrics.WeightsTransferred(stored.Length, "checkpoint");
        LogCheckpointStored(header.LeaseId, header.AgentId, stored.Digest, stored.Length);
        return new IntakeOutcome(IntakeVerdict.Accepted, stored.Digest, "");
    }

    /// <summary>Refuses an upload of a current lease: recorded on its attempt, the shard queued again.</summary>
    private IntakeOutcome Refuse(ResultUpload header, IntakeVerdict verdict, string reason)
    {
        LogUploadRefused(header.LeaseId, header.AgentId, reason);
        scheduler.RefuseUpload(header, reason);
        return new IntakeOutcome(verdict, "", reason);
    }

    /// <summary>
    /// Streams the chunks into <paramref name="put"/> (hashed there), refusing more bytes than the header declared and
    /// feeding <paramref name="check"/>, when given, while the bytes are in cache.
    /// </summary>
    private static async Task CopyAsync(IArtifactWriter put, IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, long maxBytes, SafetensorsFiniteCheck? check, CancellationToken ct)
    {
        await foreach (var chunk in chunks.WithCancellation(ct))
        {
            if (put.Length + chunk.Length > maxBytes)
            {
                throw new InvalidDataException($"upload is larger than the {maxBytes} bytes its header declared");
            }

            check?.Append(chunk.Span);
            await put.Stream.WriteAsync(chunk, ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upload for lease {LeaseId} from {AgentId} refused: {Reason}")]
    private partial void LogUploadRefused(string leaseId, string agentId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Checkpoint of lease {LeaseId} from {AgentId} stored: {Digest} ({Bytes} bytes)")]
    private partial void LogCheckpointStored(string leaseId, string agentId, string digest, long bytes);
}
