using System.Buffers;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.DataPlane;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Intake;
using RMTC.Farm.Coordinator.Metrics;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Services.Wire;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Services;

/// <summary>The agents' side of the wire: registration, sessions, and weights moving in chunks both ways.</summary>
public sealed partial class AgentGrpcService(FarmScheduler scheduler, ResultIntake intake, IArtifactStore artifacts, FarmMetrics metrics, IOptions<CoordinatorOptions> options, CoordinatorEndpoints endpoints, PeerDirectory peers, ILogger<AgentGrpcService> log)
    : AgentService.AgentServiceBase
{
    public override Task<RegisterResponse> Register(RegisterRequest request, ServerCallContext context)
    {
        try
        {
            var welcome = scheduler.Register(request.ToDomain()).ToWire();
            // An agent that knows the data plane moves weights there; older agents ignore the field and keep to gRPC.
            welcome.DataPlane = endpoints.Advertised();
            peers.Register(request.AgentId, request.PeerDataPlane, context.GetHttpContext().Connection.RemoteIpAddress);
            return Task.FromResult(welcome);
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
        System.Threading.Channels.ChannelReader<AgentCommand> outbox;
        try
        {
            outbox = scheduler.Connect(hello.AgentId, hello.SessionToken);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }

        peers.Online(hello.AgentId, true);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var writer = Task.Run(async () =>
        {
            await foreach (var message in outbox.ReadAllAsync(stop.Token))
            {
                var wire = message.ToWire();
                if (wire.Assign is { } a)
                {
                    // A peer that holds the inputs spares the coordinator's network; the agent checks the digest and falls back here.
                    a.PeerDataPlane = peers.Name(hello.AgentId, a.LeaseId, [a.GlobalWeightsDigest, a.ModelDigest, a.ResumeCheckpointDigest]);
                }

                await responseStream.WriteAsync(wire, stop.Token);
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
            peers.Online(hello.AgentId, false);
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
                        foreach (var running in message.Heartbeat.Running)
                        {
                            peers.Reported(agentId, running.LeaseId, running.Phase);
                        }

                        scheduler.Heartbeat(agentId, message.Heartbeat.ToDomain());
                        break;
                    case AgentMessage.KindOneofCase.Failed:
                        scheduler.ShardFailed(agentId, message.Failed.ToDomain());
                        break;
                    case AgentMessage.KindOneofCase.Yielded:
                        scheduler.ShardYielded(agentId, message.Yielded.ToDomain());
                        break;
                    case AgentMessage.KindOneofCase.Evaluated:
                        scheduler.EvaluationReported(agentId, message.Evaluated.ToDomain());
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

        var kind = request.Type == ArtifactType.Torchscript ? ArtifactKind.TorchScript : ArtifactKind.Weights;
        if (!artifacts.Exists(request.Digest, kind))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"no {(kind == ArtifactKind.TorchScript ? "model file" : "weights")} with digest {request.Digest} in the artifact store"));
        }

        await using var file = artifacts.OpenRead(request.Digest, kind);
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

        var header = requestStream.Current.Header.ToDomain();
        var outcome = await intake.ReceiveAsync(header, Chunks(requestStream, ct), ct);
        return outcome.Verdict switch
        {
            IntakeVerdict.Accepted => new UploadResultResponse { Digest = outcome.Digest },
            IntakeVerdict.Duplicate => new UploadResultResponse { Digest = outcome.Digest, Duplicate = true },
            IntakeVerdict.TooLarge => throw new RpcException(new Status(StatusCode.ResourceExhausted, outcome.Reason)),
            IntakeVerdict.Corrupt => throw new RpcException(new Status(StatusCode.DataLoss, outcome.Reason)),
            IntakeVerdict.Invalid => throw new RpcException(new Status(StatusCode.InvalidArgument, outcome.Reason)),
            IntakeVerdict.Rejected => throw new RpcException(new Status(StatusCode.InvalidArgument, "result refused: " + outcome.Reason)),
            _ => throw new RpcException(new Status(StatusCode.FailedPrecondition, outcome.Reason)),
        };
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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Session of {AgentId} ended while writing: {Reason}")]
    private partial void LogSessionWriteFailed(string agentId, string reason);
}
