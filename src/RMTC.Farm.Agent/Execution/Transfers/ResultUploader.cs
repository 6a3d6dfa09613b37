using System.Buffers;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution.Transfers;

/// <summary>
/// Streams a result or a checkpoint to the coordinator in chunks (<c>UploadResult</c>, fenced by lease and epoch), and
/// keeps trying while the coordinator is unreachable.
/// </summary>
public sealed partial class ResultUploader(IOptions<AgentOptions> options, TimeProvider time, ILogger<ResultUploader> log)
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
        while (true)
        {
            try
            {
                return await UploadOnceAsync(client, agentId, a, path, result, ct, isCheckpoint);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown && time.GetUtcNow() < deadline)
            {
                LogUploadRetry(a.LeaseId, delay.TotalSeconds, e.Status.Detail);
                await Task.Delay(delay, time, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 10_000));
            }
        }
    }

    private async Task<string> UploadOnceAsync(AgentService.AgentServiceClient client, string agentId, Assignment a, string path, ShardResult result, CancellationToken ct, bool isCheckpoint)
    {
        // Cached weights are stored under their digest (simulated results are the cached global weights).
        var digest = Path.GetFileNameWithoutExtension(path) is { } name && Sha256Digest.IsValid(name) && a.GlobalWeightsDigest == name ? name : Sha256Digest.OfFile(path);
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
        LogUploaded(a.LeaseId, digest, length, response.Duplicate);
        return digest;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: result {Digest} uploaded ({Bytes} bytes, duplicate: {Duplicate})")]
    private partial void LogUploaded(string leaseId, string digest, long bytes, bool duplicate);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: coordinator unreachable for the upload, retrying in {Seconds:F1} s ({Detail})")]
    private partial void LogUploadRetry(string leaseId, double seconds, string detail);
}
