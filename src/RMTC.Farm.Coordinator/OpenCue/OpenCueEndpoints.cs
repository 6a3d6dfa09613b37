using System.Reflection;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>Maps the OpenCue-compatible services and keeps them on their own port.</summary>
public static class OpenCueEndpoints
{
    /// <summary>Each OpenCue service the coordinator implements, with the descriptor of the OpenCue service it answers for.</summary>
    private static readonly (Type Implementation, ServiceDescriptor Service)[] Implemented =
    [
        (typeof(OpenCueCueService), CueInterface.Descriptor),
        (typeof(OpenCueJobService), JobInterface.Descriptor),
        (typeof(OpenCueLayerService), LayerInterface.Descriptor),
        (typeof(OpenCueFrameService), FrameInterface.Descriptor),
        (typeof(OpenCueShowService), ShowInterface.Descriptor),
        (typeof(OpenCueHostService), HostInterface.Descriptor),
        (typeof(OpenCueProcService), ProcInterface.Descriptor),
        (typeof(OpenCueAllocationService), AllocationInterface.Descriptor),
        (typeof(OpenCueServiceService), ServiceInterface.Descriptor),
        (typeof(OpenCueLimitService), LimitInterface.Descriptor),
    ];

    /// <summary>
    /// The method paths (<c>/package.Service/Method</c>) the coordinator serves: those its services override. Every other
    /// OpenCue call, whether our protos carry it or not, is answered by <see cref="OpenCueUnserved.Explain"/>.
    /// </summary>
    public static IReadOnlySet<string> Served { get; } = Implemented
        .SelectMany(s => s.Implementation.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => m.GetBaseDefinition().DeclaringType != m.DeclaringType)
            .Select(m => $"/{s.Service.FullName}/{m.Name}"))
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>Maps OpenCue's services as far as the coordinator implements them.</summary>
    public static IEndpointRouteBuilder MapOpenCue(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<OpenCueCueService>();
        endpoints.MapGrpcService<OpenCueJobService>();
        endpoints.MapGrpcService<OpenCueLayerService>();
        endpoints.MapGrpcService<OpenCueFrameService>();
        endpoints.MapGrpcService<OpenCueShowService>();
        endpoints.MapGrpcService<OpenCueHostService>();
        endpoints.MapGrpcService<OpenCueProcService>();
        endpoints.MapGrpcService<OpenCueAllocationService>();
        endpoints.MapGrpcService<OpenCueServiceService>();
        endpoints.MapGrpcService<OpenCueLimitService>();
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
            var path = context.Request.Path.Value ?? "";
            var openCueService = OpenCueUnserved.IsOpenCue(path);
            if (onOpenCuePort == openCueService)
            {
                // An OpenCue call the farm does not serve gets our reason, not gRPC's "Method is unimplemented.".
                return !onOpenCuePort || Served.Contains(path) ? next(context) : Unimplemented(context, OpenCueUnserved.Explain(path));
            }

            return Unimplemented(context, onOpenCuePort
                ? "only OpenCue's services answer on this port: the farm's own services are on the coordinator's main port (Coordinator:Port)"
                : openCuePort is null
                    ? "OpenCue's services answer only on the coordinator's OpenCue port, which is off here (Coordinator:OpenCuePort is -1, or the coordinator requires tokens and lists no Coordinator:OpenCueSubmitHosts)"
                    : "OpenCue's services answer on the coordinator's OpenCue port (Coordinator:OpenCuePort, default 8443)");
        });
    }

    /// <summary>A trailers-only gRPC answer: clients see UNIMPLEMENTED with the reason.</summary>
    private static Task Unimplemented(HttpContext context, string reason)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = "12";
        // grpc-message is percent-encoded (gRPC over HTTP/2); our reasons are ASCII, but '%' itself must be escaped.
        context.Response.Headers["grpc-message"] = reason.Replace("%", "%25", StringComparison.Ordinal);
        return Task.CompletedTask;
    }
}
