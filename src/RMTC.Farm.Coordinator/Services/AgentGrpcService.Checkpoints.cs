using Grpc.Core;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Services;

/// <summary>
/// Preemption checkpoints arrive through <c>UploadResult</c> with <see cref="UploadHeader.Checkpoint"/> set: fenced by the
/// same lease check as results (a stale epoch is refused with FAILED_PRECONDITION), digest and size verified, stored
/// content-addressed, and never merged. The <see cref="ShardYielded"/> that follows on the session names the digest.
/// </summary>
public sealed partial class AgentGrpcService
{
    private async Task<UploadResultResponse> ReceiveCheckpointAsync(UploadHeader header, long? weightBytes, IAsyncStreamReader<UploadResultRequest> requestStream, CancellationToken ct)
    {
        if (weightBytes is { } expected
            && Security.JobLimits.CheckpointTooLarge(header.TotalBytes, expected, security.Value.UploadHeadroomBytes) is { } tooLarge)
        {
            // Not a failure of the shard: without a checkpoint its next lease restarts it.
            LogUploadRefused(header.LeaseId, header.AgentId, tooLarge);
            throw new RpcException(new Status(StatusCode.ResourceExhausted, tooLarge));
        }

        StoredArtifact stored;
        try
        {
            await using var put = artifacts.BeginPut(ArtifactKind.Weights);
            await ReceiveChunksAsync(put, Chunks(requestStream, ct), (long)header.TotalBytes, check: null, ct);
            stored = await put.CommitAsync(header.Digest, (long)header.TotalBytes, ct);
        }
        catch (ArtifactMismatchException e)
        {
            throw new RpcException(new Status(StatusCode.DataLoss,
                $"checkpoint corrupt: header says {header.TotalBytes} bytes with sha256 {header.Digest}, received {e.ActualLength} bytes hashing to {e.ActualDigest}"));
        }
        catch (InvalidDataException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "checkpoint refused: " + e.Message));
        }

        metrics.WeightsTransferred(stored.Length, "checkpoint");
        LogCheckpointStored(header.LeaseId, header.AgentId, stored.Digest, stored.Length);
        return new UploadResultResponse { Digest = stored.Digest };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Checkpoint of lease {LeaseId} from {AgentId} stored: {Digest} ({Bytes} bytes)")]
    private partial void LogCheckpointStored(string leaseId, string agentId, string digest, long bytes);
}
