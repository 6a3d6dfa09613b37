using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Http;
using RMTC.Farm.Protos.Client;

namespace RMTC.Farm.Coordinator.Leadership;

/// <summary>
/// The gate in front of every gRPC service while leadership is on: a coordinator that does not lead answers
/// <see cref="StatusCode.Unavailable"/>, naming the leader's advertised address in the status text and in the
/// <see cref="LeaderHint.MetadataKey"/> trailer, so clients given several addresses go there.
/// </summary>
public sealed class LeadershipGateInterceptor(CoordinatorLeadership leadership) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        using var cut = Admit(context);
        return await continuation(request, context);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var cut = Admit(context);
        return await continuation(requestStream, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var cut = Admit(context);
        await continuation(request, responseStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var cut = Admit(context);
        await continuation(requestStream, responseStream, context);
    }

    /// <summary>Refuses the call unless this coordinator serves; else ties it to leadership, so stepping down aborts it.</summary>
    private CancellationTokenRegistration Admit(ServerCallContext context) =>
        leadership.Serving
            ? leadership.SteppedDownToken.Register(static http => ((HttpContext)http!).Abort(), context.GetHttpContext())
            : throw Refusal();

    private RpcException Refusal()
    {
        var me = leadership.AdvertisedAddress;
        var phase = leadership.Phase;
        // A coordinator recovering after its takeover is the leader: clients wait for it rather than go elsewhere.
        var leader = phase == LeaderPhase.Recovering ? me : leadership.LeaderAddress is { } l && l != me ? l : null;
        var text = phase switch
        {
            LeaderPhase.Recovering => $"coordinator {me} has just taken over as leader and is recovering the live runs: retry in a moment",
            LeaderPhase.SteppedDown => $"coordinator {me} stepped down as leader ({leadership.SteppedDownBecause}) and is stopping" + (leader is null ? "" : $"; the leader is {leader}"),
            _ when leader is not null => $"coordinator {me} is a standby; the leader is {leader}: send calls there (clients given every coordinator's address, e.g. --coordinator {leader},{me}, follow it on their own)",
            _ => $"coordinator {me} is a standby and no coordinator holds the leader lease yet: retry in a moment",
        };
        var trailers = new Metadata();
        if (leader is not null)
        {
            trailers.Add(LeaderHint.MetadataKey, leader);
        }

        return new RpcException(new Status(StatusCode.Unavailable, text), trailers);
    }
}
