using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RMTC.Farm.Coordinator.OpenCue;
using RMTC.Farm.Coordinator.Security;

namespace RMTC.Farm.Coordinator.Hosting;

/// <summary>Builds the coordinator's web host (Kestrel, HTTP/2 gRPC: cleartext, or TLS with Coordinator:Tls).</summary>
public static class CoordinatorHost
{
    /// <summary>
    /// Creates the coordinator application. <paramref name="configure"/> adds configuration sources after the defaults
    /// (so flags win over environment, which wins over files).
    /// </summary>
    public static WebApplication Create(Action<IConfigurationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddEnvironmentVariables("RMTC_");
        configure?.Invoke(builder.Configuration);
        builder.Services.AddRmtcCoordinator(builder.Configuration);
        // Under systemd (Type=notify) the unit becomes active once Kestrel listens, and SIGTERM stops gracefully.
        builder.Services.AddSystemd();
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var options = context.Configuration.GetSection(CoordinatorOptions.Section).Get<CoordinatorOptions>() ?? new CoordinatorOptions();
            var address = ParseAddress(options.ListenAddress, nameof(CoordinatorOptions.ListenAddress));
            var endpoints = kestrel.ApplicationServices.GetRequiredService<CoordinatorEndpoints>();
            var security = context.Configuration.GetSection(CoordinatorOptions.Section).Get<SecurityOptions>() ?? new SecurityOptions();
            var tls = security.Tls;
            // Weights stream through HTTP/2: default windows (1 MiB per connection, 768 KiB per stream) and 16 KiB frames
            // stall a sender every few chunks waiting for WINDOW_UPDATEs. Larger ones keep loopback and LAN links busy.
            kestrel.Limits.Http2.InitialConnectionWindowSize = 32 * 1024 * 1024;
            kestrel.Limits.Http2.InitialStreamWindowSize = 16 * 1024 * 1024;
            kestrel.Limits.Http2.MaxFrameSize = 1024 * 1024 - 1;
            kestrel.Listen(address, options.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (tls.Enabled)
                {
                    listen.UseHttps(https => CoordinatorTls.Configure(https, tls));
                    endpoints.GrpcTls = true;
                }

                endpoints.Grpc = listen;
            });
            DataPlane.DataPlaneListener.Configure(kestrel, address, context.Configuration, tls, endpoints);
            if (options.MetricsPort >= 0)
            {
                // Prometheus scrapes HTTP/1.1; gRPC needs HTTP/2: each gets its own port.
                kestrel.Listen(address, options.MetricsPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1;
                    endpoints.Metrics = listen;
                });
            }

            // pycue can send no token: a coordinator that requires tokens opens this port only to listed submit hosts.
            if (OpenCueAccess.Listen(options, security, context.Configuration))
            {
                // pycue speaks plaintext HTTP/2 with prior knowledge, like our own clients, but to its own port.
                var openCueAddress = options.OpenCueListenAddress is { Length: > 0 } a ? ParseAddress(a, nameof(CoordinatorOptions.OpenCueListenAddress)) : address;
                kestrel.Listen(openCueAddress, options.OpenCuePort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http2;
                    endpoints.OpenCue = listen;
                });
            }
        });
        var app = builder.Build();
        app.UseOpenTelemetryPrometheusScrapingEndpoint(context =>
            context.Request.Path == "/metrics" && context.Request.Protocol != "HTTP/2");
        app.UseOpenCuePortSeparation();
        app.MapRmtcCoordinator();
        return app;
    }

    private static IPAddress ParseAddress(string text, string option) =>
        text is "localhost" ? IPAddress.Loopback
        : IPAddress.TryParse(text, out var parsed) ? parsed
        : throw new InvalidOperationException($"Coordinator:{option} '{text}' is not an IP address: use e.g. 127.0.0.1 or 0.0.0.0");

    /// <summary>The OpenCue endpoint's address (for <c>CUEBOT_HOSTS</c>) once started, or null when it is off.</summary>
    public static Uri? OpenCueAddress(this WebApplication app) =>
        app.Services.GetRequiredService<CoordinatorEndpoints>().OpenCue is { IPEndPoint: { } ep }
            ? new Uri($"http://{(ep.Address.Equals(IPAddress.Any) || ep.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1" : ep.Address.ToString())}:{ep.Port}")
            : null;

    /// <summary>The Prometheus endpoint's address once started, or null when metrics are off.</summary>
    public static Uri? MetricsAddress(this WebApplication app) =>
        app.Services.GetRequiredService<CoordinatorEndpoints>().Metrics is { } listen
            ? new Uri($"http://127.0.0.1:{listen.IPEndPoint!.Port}/metrics")
            : null;

    /// <summary>The Explorer's address (beside /metrics, on its port) once started, or null when metrics are off.</summary>
    public static Uri? ExplorerAddress(this WebApplication app) =>
        app.MetricsAddress() is { } metrics ? new Uri(metrics, "/explorer/") : null;

    /// <summary>The address agents and wranglers use, once the app has started (resolves port 0).</summary>
    public static Uri BoundAddress(this WebApplication app)
    {
        if (app.Services.GetRequiredService<CoordinatorEndpoints>().Grpc is { IPEndPoint: { } grpc })
        {
            var host = grpc.Address.Equals(IPAddress.Any) || grpc.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1" : grpc.Address.ToString();
            return new Uri($"{(app.Services.GetRequiredService<CoordinatorEndpoints>().GrpcTls ? "https" : "http")}://{host}:{grpc.Port}");
        }

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var first = addresses?.FirstOrDefault() ?? throw new InvalidOperationException("the coordinator is not listening yet");
        return new Uri(first.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }
}
