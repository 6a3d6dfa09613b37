using System.Buffers;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Metrics;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Services;

/// <summary>The agents' side of the wire: registration, sessions, and weights moving in chunks both ways.</summary>
public sealed partial class AgentGrpcService(FarmScheduler scheduler, IArtifactStore artifacts, FarmMetrics metrics, IOptions<CoordinatorOptions> options, IOptions<Security.SecurityOptions> security, ILogger<AgentGrpcService> log)
    : AgentService.AgentServiceBase
{
    public override Task<RegisterResponse> Register(RegisterRequest request, ServerCallContext context)
    {
        try
        {
            return Task.FromResult(scheduler.Register(request));
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
    }

    public override async Task Session(IAsyncStreamReader<AgentMessage> requestStream, IServerStreamWriter<CoordinatorMessage> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (!await requestStream.MoveNext(ct) || requestStream.Current.KindCase != AgentMessage.KindOneofCase.Hello)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "a session must start with a Hello carrying the token from Register"));
        }

        var hello = requestStream.Current.Hello;
        System.Threading.Channels.ChannelReader<CoordinatorMessage> outbox;
        try
        {
            outbox = scheduler.Connect(hello.AgentId, hello.SessionToken);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var writer = Task.Run(async () =>
        {
            await foreach (var message in outbox.ReadAllAsync(stop.Token))
            {
                await responseStream.WriteAsync(message, stop.Token);
            }
        }, stop.Token);

        try
        {
            var reader = ReadAsync(hello.AgentId, requestStream, stop.Token);
            // Whichever ends first ends the session: the agent hung up, or the scheduler closed the outbox.
            await Task.WhenAny(reader, writer);
        }
        finally
        {
            scheduler.Disconnect(hello.AgentId, outbox);
            await stop.CancelAsync();
            try
            {
                await writer;
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                LogSessionWriteFailed(hello.AgentId, e.Message);
            }
        }
    }

    private async Task ReadAsync(string agentId, IAsyncStreamReader<AgentMessage> stream, CancellationToken ct)
    {
        try
        {
            while (await stream.MoveNext(ct))
            {
                var message = stream.Current;
                switch (message.KindCase)
                {
                    case AgentMessage.KindOneofCase.Heartbeat:
                        scheduler.Heartbeat(agentId, message.Heartbeat);
                        break;
                    case AgentMessage.KindOneofCase.Failed:
                        scheduler.ShardFailed(agentId, message.Failed);
                        break;
                    case AgentMessage.KindOneofCase.Yielded:
                        scheduler.ShardYielded(agentId, message.Yielded);
                        break;
                    case AgentMessage.KindOneofCase.Evaluated:
                        scheduler.EvaluationReported(agentId, message.Evaluated);
                        break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException || e is RpcException { StatusCode: StatusCode.Cancelled })
        {
            // The agent went away; the scheduler's lease timeout decides what happens to its work.
        }
    }

    public override async Task FetchWeights(FetchWeightsRequest request, IServerStreamWriter<WeightsChunk> responseStream, ServerCallContext context)
    {
        if (!Sha256Digest.IsValid(request.Digest))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"'{request.Digest}' is not a sha256 digest (64 lowercase hex characters)"));
        }

        if (!artifacts.Exists(request.Digest))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"no weights with digest {request.Digest} in the artifact store"));
        }

        await using var file = artifacts.OpenRead(request.Digest);
        var total = file.Length;
        if ((long)request.Offset > total)
        {
            throw new RpcException(new Status(StatusCode.OutOfRange, $"offset {request.Offset} is past the end of the {total}-byte file"));
        }

        file.Position = (long)request.Offset;
        var buffer = ArrayPool<byte>.Shared.Rent(options.Value.ChunkBytes);
        try
        {
            var first = true;
            int read;
            while ((read = await file.ReadAsync(buffer.AsMemory(0, options.Value.ChunkBytes), context.CancellationToken)) > 0)
            {
                // The chunk is serialised before WriteAsync completes, so the pooled buffer can be reused after it.
                var chunk = new WeightsChunk { Data = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, read)) };
                if (first)
                {
                    chunk.TotalBytes = (ulong)total;
                    first = false;
                }

                await responseStream.WriteAsync(chunk, context.CancellationToken);
                metrics.WeightsTransferred(read, "fetch");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public override async Task<UploadResultResponse> UploadResult(IAsyncStreamReader<UploadResultRequest> requestStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (!await requestStream.MoveNext(ct) || requestStream.Current.KindCase != UploadResultRequest.KindOneofCase.Header)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "an upload must start with its header (lease id, epoch, digest)"));
        }

        var header = requestStream.Current.Header;
        if (!Sha256Digest.IsValid(header.Digest))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"header digest '{header.Digest}' is not a sha256 digest"));
        }

        var decision = scheduler.CheckUpload(header);
        switch (decision.Verdict)
        {
            case UploadVerdict.Duplicate:
                return new UploadResultResponse { Digest = header.Digest, Duplicate = true };
            case UploadVerdict.Stale:
                LogUploadRefused(header.LeaseId, header.AgentId, decision.Reason);
                throw new RpcException(new Status(StatusCode.FailedPrecondition, decision.Reason));
        }

        // Before any chunk is read: a header claiming far more than the run's weights would fill the disk.
        var expected = scheduler.ExpectedUploadBytes(header.LeaseId);
        if (header.Checkpoint)
        {
            return await ReceiveCheckpointAsync(header, expected, requestStream, ct);
        }

        // A preparation (no expected size yet: the run's first weights) is bounded by its own setting.
        if ((expected is { } weightBytes
                ? Security.JobLimits.UploadTooLarge(header.TotalBytes, weightBytes, security.Value.UploadHeadroomBytes)
                : Security.JobLimits.InitialWeightsTooLarge(header.TotalBytes, security.Value.MaxInitialWeightsBytes)) is { } tooLarge)
        {
            LogUploadRefused(header.LeaseId, header.AgentId, tooLarge);
            scheduler.RefuseUpload(header, tooLarge);
            throw new RpcException(new Status(StatusCode.ResourceExhausted, tooLarge));
        }

        StoredArtifact stored;
        var check = new SafetensorsFiniteCheck((long)header.TotalBytes);
        try
        {
            await using var put = artifacts.BeginPut(ArtifactKind.Weights, header.Digest);
            await ReceiveChunksAsync(put, Chunks(requestStream, ct), (long)header.TotalBytes, check, ct);
            stored = await put.CommitAsync(header.Digest, (long)header.TotalBytes, ct);
        }
        catch (ArtifactMismatchException e)
        {
            var reason = $"upload corrupt: header says {header.TotalBytes} bytes with sha256 {header.Digest}, received {e.ActualLength} bytes hashing to {e.ActualDigest}";
            scheduler.RefuseUpload(header, reason);
            throw new RpcException(new Status(StatusCode.DataLoss, reason));
        }
        catch (InvalidDataException e)
        {
            scheduler.RefuseUpload(header, e.Message);
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }

        metrics.WeightsTransferred(stored.Length, "upload");
        decision = await scheduler.CompleteAsync(header, valuesChecked: check.IsClean);
        return decision.Verdict switch
        {
            UploadVerdict.Accept => new UploadResultResponse { Digest = stored.Digest },
            UploadVerdict.Duplicate => new UploadResultResponse { Digest = stored.Digest, Duplicate = true },
            UploadVerdict.Rejected => throw new RpcException(new Status(StatusCode.InvalidArgument, "result refused: " + decision.Reason)),
            _ => throw new RpcException(new Status(StatusCode.FailedPrecondition, decision.Reason)),
        };
    }

    /// <summary>
    /// Streams an upload's chunks into <paramref name="put"/> (hashed there), refusing more bytes than its header declared
    /// and feeding <paramref name="check"/>, when given, while the bytes are in cache.
    /// </summary>
    private static async Task ReceiveChunksAsync(IArtifactWriter put, IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, long maxBytes, SafetensorsFiniteCheck? check, CancellationToken ct)
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

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> Chunks(IAsyncStreamReader<UploadResultRequest> stream, [EnumeratorCancellation] CancellationToken ct)
    {
        while (await stream.MoveNext(ct))
        {
            if (stream.Current.KindCase == UploadResultRequest.KindOneofCase.Chunk)
            {
                yield return stream.Current.Chunk.Memory;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upload for lease {LeaseId} from {AgentId} refused: {Reason}")]
    private partial void LogUploadRefused(string leaseId, string agentId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Session of {AgentId} ended while writing: {Reason}")]
    private partial void LogSessionWriteFailed(string agentId, string reason);
}
