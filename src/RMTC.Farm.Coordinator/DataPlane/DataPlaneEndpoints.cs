using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Leadership;
using RMTC.Farm.Coordinator.Metrics;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Protos.DataPlane;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>
/// Maps the data plane (<c>/artifacts/sha256/&lt;hex&gt;</c>) on its own port only, behind the agents' authentication:
/// the farm token or a client certificate of the agents' CA, exactly as the gRPC AgentService asks. Uploads are taken
/// only by the leading coordinator (a standby answers 503 naming the leader); artifacts are served by any.
/// </summary>
public static partial class DataPlaneEndpoints
{
    /// <summary>Maps GET/HEAD (artifacts, ranges; upload offsets) and PUT (resumable result uploads).</summary>
    public static IEndpointRouteBuilder MapDataPlane(this IEndpointRouteBuilder endpoints)
    {
        var listeners = endpoints.ServiceProvider.GetRequiredService<CoordinatorEndpoints>();
        var group = endpoints.MapGroup("/artifacts/sha256")
            .AddEndpointFilter(async (context, next) =>
                listeners.DataPlane?.IPEndPoint?.Port is { } port && context.HttpContext.Connection.LocalPort == port
                    ? await next(context)
                    : Results.NotFound())
            .AddEndpointFilter(AuthenticateAsync);
        group.MapGet("/{hex}", (HttpContext c, string hex, IArtifactStore store, FarmMetrics metrics) => ArtifactDownload.HandleAsync(c, hex, store, metrics));
        group.MapMethods("/{hex}", [HttpMethods.Head], (HttpContext c, string hex, IArtifactStore store, FarmMetrics metrics, UploadSessions sessions) =>
        {
            if (c.Request.Headers.ContainsKey(Protos.DataPlane.DataPlaneWire.UploadHeader))
            {
                ResultUploadEndpoint.Offset(c, hex, sessions);
                return Task.CompletedTask;
            }

            return ArtifactDownload.HandleAsync(c, hex, store, metrics);
        });
        group.MapPut("/{hex}", (HttpContext c, string hex, UploadSessions sessions, CoordinatorLeadership leadership) =>
        {
            // A standby holds no leases: answering "stale" would make the agent drop a result the leader wants. Like the gRPC
            // gate, it says where the leader is; the agent retries, and its next registration points it there.
            if (!leadership.Serving)
            {
                c.Response.Headers.RetryAfter = "1";
                return Results.Json(new DataPlaneAnswer("", leadership.NotServing().Text, ""), statusCode: StatusCodes.Status503ServiceUnavailable).ExecuteAsync(c);
            }

            return ResultUploadEndpoint.PutAsync(c, hex, sessions);
        });
        return endpoints;
    }

    private static async ValueTask<object?> AuthenticateAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var access = http.RequestServices.GetRequiredService<FarmAccess>();
        var header = http.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
        if (access.AgentRefusal(http.Connection.ClientCertificate is not null, token) is not { } refusal)
        {
            return await next(context);
        }

        var log = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(DataPlaneEndpoints));
        LogRefused(log, http.Request.Method, http.Request.Path, http.Connection.RemoteIpAddress?.ToString() ?? "?", refusal);
        return Results.Json(new DataPlaneAnswer("", refusal, ""), statusCode: StatusCodes.Status401Unauthorized);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Method} {Path} from {Peer}: {Reason}")]
    private static partial void LogRefused(ILogger log, string method, string path, string peer, string reason);
}
