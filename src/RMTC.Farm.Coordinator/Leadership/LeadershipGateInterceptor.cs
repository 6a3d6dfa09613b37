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
        var (text, leader) = leadership.NotServing();
        var trailers = new Metadata();
        if (leader is not null)
        {
            trailers.Add(LeaderHint.MetadataKey, leader);
        }

        return new RpcException(new Status(StatusCode.Unavailable, text), trailers);
    }
}
