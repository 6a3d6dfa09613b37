using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>
/// Checks the bearer token of every call before it reaches a service: AgentService calls need the farm token,
/// JobService, LineageService and ModelService calls a wrangler's token (whose identity the services then read with
/// <see cref="CallerContext.Wrangler"/>). A side with no tokens configured stays open. OpenCue's services cannot be
/// asked for a token (pycue sends none): when submit hosts are listed, the caller's address must be one of them, and
/// the services read the shows it may act for with <see cref="OpenCueCallerContext.OpenCueCaller"/> (see README, Security).
/// </summary>
public sealed partial class FarmAuthInterceptor(FarmAccess access, OpenCueAccess openCue, ILogger<FarmAuthInterceptor> log) : Interceptor
{
    private static readonly string AgentPrefix = $"/{AgentService.Descriptor.FullName}/";
    private static readonly string[] WranglerPrefixes =
    [
        $"/{JobService.Descriptor.FullName}/",
        $"/{LineageService.Descriptor.FullName}/",
        $"/{ModelService.Descriptor.FullName}/",
    ];

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Authenticate(ServerCallContext context)
    {
        var method = context.Method;
        if (method.StartsWith(AgentPrefix, StringComparison.Ordinal))
        {
            if (access.AgentRefusal(context.GetHttpContext().Connection.ClientCertificate is not null, BearerToken(context)) is { } refusal)
            {
                throw Refuse(context, refusal);
            }

            return;
        }

        if (OpenCue.OpenCueUnserved.IsOpenCue(method))
        {
            AuthorizeOpenCue(context);
            return;
        }

        if (!access.WranglersAuthenticated || !WranglerPrefixes.Any(p => method.StartsWith(p, StringComparison.Ordinal)))
        {
            return;
        }

        var wranglerToken = BearerToken(context)
            ?? throw Refuse(context, "this coordinator requires a wrangler token: pass --token TOKEN, --token-file FILE or set RMTC_TOKEN (ask the farm admin for one)");
        var identity = access.Wrangler(wranglerToken)
            ?? throw Refuse(context, "the token presented is not a wrangler token of this farm (not in Coordinator:WranglerTokensFile): check --token / RMTC_TOKEN");
        context.UserState[CallerContext.Key] = identity;
    }

    /// <summary>With submit hosts listed, only they are answered; the address is the connection's, which the caller cannot choose.</summary>
    private void AuthorizeOpenCue(ServerCallContext context)
    {
        // pycue sends no token; a client that does (a site's wrapper around pycue) is named by it in the run's records.
        if (access.WranglersAuthenticated && BearerToken(context) is { } token)
        {
            context.UserState[CallerContext.Key] = access.Wrangler(token)
                ?? throw Refuse(context, "the token presented is not a wrangler token of this farm (not in Coordinator:WranglerTokensFile): OpenCue calls need none, so leave it out, or check it");
        }

        if (!openCue.Scoped)
        {
            return;
        }

        var address = context.GetHttpContext().Connection.RemoteIpAddress;
        var caller = (address is null ? null : openCue.Caller(address))
            ?? throw Refuse(context, StatusCode.PermissionDenied,
                $"{address?.ToString() ?? "this caller"} is not a submit host of this farm: the OpenCue port answers only the addresses in Coordinator:OpenCueSubmitHosts (ask the farm admin to add this host and its shows)");
        context.UserState[OpenCueCaller.Key] = caller;
    }

    private static string? BearerToken(ServerCallContext context)
    {
        var header = context.RequestHeaders.GetValue("authorization");
        if (header is null)
        {
            return null;
        }

        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && header.Length > scheme.Length ? header[scheme.Length..].Trim() : null;
    }

    private RpcException Refuse(ServerCallContext context, string message) => Refuse(context, StatusCode.Unauthenticated, message);

    private RpcException Refuse(ServerCallContext context, StatusCode code, string message)
    {
        LogRefused(context.Method, context.Peer, message);
        return new RpcException(new Status(code, message));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Method} from {Peer}: {Reason}")]
    private partial void LogRefused(string method, string peer, string reason);
}

/// <summary>The authenticated wrangler of a call.</summary>
public static class CallerContext
{
    internal const string Key = "rmtc.wrangler";

    /// <summary>The wrangler the call's token stands for; null when wranglers are not authenticated (everything open).</summary>
    public static WranglerIdentity? Wrangler(this ServerCallContext context) =>
        context.UserState.TryGetValue(Key, out var value) ? value as WranglerIdentity : null;
}
