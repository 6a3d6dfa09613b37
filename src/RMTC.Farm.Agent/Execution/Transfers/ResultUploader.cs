using System.Buffers;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.DataPlane;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution.Transfers;

/// <summary>
/// Sends a result or a checkpoint to the coordinator, fenced by lease and epoch: a PUT on its data plane when it offers
/// one (a cut upload resumes from the bytes the coordinator holds), else in chunks over gRPC (<c>UploadResult</c>), the
/// fallback when the data plane cannot be reached. Keeps trying while the coordinator is unreachable.
/// </summary>
public sealed partial class ResultUploader(IOptions<AgentOptions> options, DataPlaneLink dataPlane, TimeProvider time, ILogger<ResultUploader> log)
{
    /// <summary>How long an upload keeps trying through an outage before its error is the attempt's failure.</summary>
    public static readonly TimeSpan RetryFor = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Uploads <paramref name="path"/> for <paramref name="a"/>'s lease; returns its digest. Keeps trying while the
    /// coordinator is unreachable (a restart: it restores the lease from its store and takes the result then).
    /// Refusals (stale lease, bad weights) are answers, not outages, and are thrown at once.
    /// </summary>
    public async Task<string> UploadAsync(AgentService.AgentServiceClient client, string agentId, Assignment a, string path, ShardResult result, CancellationToken ct, bool isCheckpoint = false)
    {
        var deadline = time.GetUtcNow() + RetryFor;
        var delay = TimeSpan.FromMilliseconds(500);
        // Cached weights are stored under their digest (simulated results are the cached global weights).
        var digest = Path.GetFileNameWithoutExtension(path) is { } name && Sha256Digest.IsValid(name) && a.GlobalWeightsDigest == name ? name : Sha256Digest.OfFile(path);
        var resume = false;
        var viaGrpc = false;
        while (true)
        {
            try
            {
                if (!viaGrpc && dataPlane.Current is { } plane)
                {
                    return await UploadOverDataPlaneAsync(plane, agentId, a, path, digest, result, isCheckpoint, resume, ct);
                }

                return await UploadOnceAsync(client, agentId, a, path, digest, result, ct, isCheckpoint);
            }
            catch (HttpRequestException e) when (!resume && e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError)
            {
                // The data plane cannot be reached at all (a firewall, a proxy that knows only gRPC): gRPC carries this one.
                LogDataPlaneUnreachable(a.LeaseId, dataPlane.Current?.Name ?? "data plane", e.Message);
                viaGrpc = true;
            }
            catch (Exception e) when (IsOutage(e) && time.GetUtcNow() < deadline)
            {
                // A cut PUT resumes from what the coordinator holds; a restarted coordinator holds nothing and says so.
                resume = !viaGrpc;
                LogUploadRetry(a.LeaseId, delay.TotalSeconds, e is RpcException r ? r.Status.Detail : e.Message);
                await Task.Delay(delay, time, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 10_000));
            }
        }
    }

    private static bool IsOutage(Exception e) =>
        e is RpcException { StatusCode: StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown } or HttpRequestException or IOException;

    private async Task<string> UploadOverDataPlaneAsync(DataPlaneClient plane, string agentId, Assignment a, string path, string digest, ShardResult result, bool isCheckpoint, bool resume, CancellationToken ct)
    {
        var metadata = new UploadMetadata
        {
            LeaseId = a.LeaseId,
            LeaseEpoch = a.LeaseEpoch,
            AgentId = agentId,
            Samples = (ulong)result.Samples,
            FinalLoss = result.FinalLoss,
            EpochLosses = result.EpochLosses,
            TrainSeconds = result.Seconds,
            Device = result.Device,
            Checkpoint = isCheckpoint,
            TorchSharpVersion = result.TorchSharpVersion ?? "",
        };
        var (stored, duplicate) = await plane.UploadAsync(path, digest, metadata, resume, ct);
        LogUploaded(a.LeaseId, stored, new FileInfo(path).Length, duplicate, plane.Name);
        return stored;
    }

    private async Task<string> UploadOnceAsync(AgentService.AgentServiceClient client, string agentId, Assignment a, string path, string digest, ShardResult result, CancellationToken ct, bool isCheckpoint)
    {
        var length = new FileInfo(path).Length;
        var header = new UploadHeader
        {
            LeaseId = a.LeaseId,
            LeaseEpoch = a.LeaseEpoch,
            AgentId = agentId,
            Digest = digest,
            TotalBytes = (ulong)length,
            Samples = (ulong)result.Samples,
            FinalLoss = result.FinalLoss,
            TrainSeconds = result.Seconds,
            Device = result.Device,
            Checkpoint = isCheckpoint,
            TorchsharpVersion = result.TorchSharpVersion ?? "",
        };
        header.EpochLosses.AddRange(result.EpochLosses);

        using var call = client.UploadResult(cancellationToken: ct);
        await call.RequestStream.WriteAsync(new UploadResultRequest { Header = header }, ct);
        var chunkBytes = options.Value.ChunkBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(chunkBytes);
        try
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            int read;
            while ((read = await file.ReadAsync(buffer.AsMemory(0, chunkBytes), ct)) > 0)
            {
                await call.RequestStream.WriteAsync(new UploadResultRequest { Chunk = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, read)) }, ct);
            }

            await call.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (e is InvalidOperationException || e is RpcException { StatusCode: StatusCode.OK })
        {
            // The coordinator answered before taking every chunk (duplicate or refusal): its answer says which. A write
            // racing that answer fails with the call's own status, which is OK for a duplicate.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var response = await call.ResponseAsync;
        LogUploaded(a.LeaseId, digest, length, response.Duplicate, "gRPC");
        return digest;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: result {Digest} uploaded ({Bytes} bytes, duplicate: {Duplicate}) over {Path}")]
    private partial void LogUploaded(string leaseId, string digest, long bytes, bool duplicate, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: {DataPlane} cannot be reached ({Reason}); uploading over gRPC")]
    private partial void LogDataPlaneUnreachable(string leaseId, string dataPlane, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: coordinator unreachable for the upload, retrying in {Seconds:F1} s ({Detail})")]
    private partial void LogUploadRetry(string leaseId, double seconds, string detail);
}
