using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>Maps the OpenCue-compatible services and keeps them on their own port.</summary>
public static class OpenCueEndpoints
{
    /// <summary>Maps <c>cue.CueInterface</c> and <c>job.JobInterface</c>.</summary>
    public static IEndpointRouteBuilder MapOpenCue(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<OpenCueCueService>();
        endpoints.MapGrpcService<OpenCueJobService>();
        return endpoints;
    }

    /// <summary>
    /// Answers OpenCue's services only on the OpenCue port, and ours only on the others: the plaintext OpenCue port
    /// may be opened wider than the farm's own (wranglers' desktops), and must not expose the agents' or lineage services.
    /// The check is on the connection's local port, not the Host header, which a client chooses.
    /// </summary>
    public static IApplicationBuilder UseOpenCuePortSeparation(this IApplicationBuilder app)
    {
        var endpoints = app.ApplicationServices.GetRequiredService<CoordinatorEndpoints>();
        return app.Use((context, next) =>
        {
            var openCuePort = endpoints.OpenCue?.IPEndPoint?.Port;
            var onOpenCuePort = openCuePort is { } port && context.Connection.LocalPort == port;
            var openCueService = IsOpenCueService(context.Request.Path);
            if (onOpenCuePort == openCueService)
            {
                return next(context);
            }

            // A trailers-only gRPC answer: clients see UNIMPLEMENTED with the reason.
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = "12";
            context.Response.Headers["grpc-message"] = onOpenCuePort
                ? "only OpenCue's cue.CueInterface and job.JobInterface answer on this port"
                : openCuePort is null
                    ? "OpenCue's services answer only on the coordinator's OpenCue port, which is off here (Coordinator:OpenCuePort is -1, or the coordinator requires tokens and lists no Coordinator:OpenCueSubmitHosts)"
                    : "OpenCue's services answer on the coordinator's OpenCue port (Coordinator:OpenCuePort, default 8443)";
            return Task.CompletedTask;
        });
    }

    private static bool IsOpenCueService(PathString path) =>
        path.StartsWithSegments("/cue.CueInterface", StringComparison.Ordinal) || path.StartsWithSegments("/job.JobInterface", StringComparison.Ordinal);
}
