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

        string tempPath;
        string digest;
        long bytes;
        try
        {
            (tempPath, digest, bytes) = await artifacts.ReceiveAsync(Chunks(requestStream, ct), (long)header.TotalBytes, ct);
        }
        catch (InvalidDataException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "checkpoint refused: " + e.Message));
        }

        if (digest != header.Digest || bytes != (long)header.TotalBytes)
        {
            ArtifactStore.TryDelete(tempPath);
            throw new RpcException(new Status(StatusCode.DataLoss,
                $"checkpoint corrupt: header says {header.TotalBytes} bytes with sha256 {header.Digest}, received {bytes} bytes hashing to {digest}"));
        }

        metrics.WeightsTransferred(bytes, "checkpoint");
        artifacts.Adopt(tempPath, digest);
        LogCheckpointStored(header.LeaseId, header.AgentId, digest, bytes);
        return new UploadResultResponse { Digest = digest };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Checkpoint of lease {LeaseId} from {AgentId} stored: {Digest} ({Bytes} bytes)")]
    private partial void LogCheckpointStored(string leaseId, string agentId, string digest, long bytes);
}
