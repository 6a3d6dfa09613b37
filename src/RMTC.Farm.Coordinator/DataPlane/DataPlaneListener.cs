using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Security;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>The data plane's Kestrel listener, and what agents are told of it when they register.</summary>
public static class DataPlaneListener
{
    /// <summary>
    /// Listens for the data plane when <see cref="DataPlaneOptions.Port"/> is not -1: HTTP/1.1 (bulk bytes move faster
    /// there than in HTTP/2's frames), with the gRPC listener's TLS and client-certificate rules when TLS is on.
    /// </summary>
    public static void Configure(KestrelServerOptions kestrel, IPAddress address, IConfiguration configuration, TlsOptions tls, CoordinatorEndpoints endpoints)
    {
        var options = configuration.GetSection(DataPlaneOptions.Section).Get<DataPlaneOptions>() ?? new DataPlaneOptions();
        if (options.Port < 0)
        {
            return;
        }

        kestrel.Listen(address, options.Port, listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            if (tls.Enabled)
            {
                listen.UseHttps(https => CoordinatorTls.Configure(https, tls));
                endpoints.DataPlaneTls = true;
            }

            endpoints.DataPlane = listen;
        });
    }

    /// <summary>The data plane as a registering agent learns it; null when it is off.</summary>
    public static Protos.V1.DataPlane? Advertised(this CoordinatorEndpoints endpoints) =>
        endpoints.DataPlane?.IPEndPoint is { } bound ? new Protos.V1.DataPlane { Port = (uint)bound.Port, Tls = endpoints.DataPlaneTls } : null;

    /// <summary>The data plane's address once started (for tests and benchmarks; agents learn it at registration), or null when off.</summary>
    public static Uri? DataPlaneAddress(this Microsoft.AspNetCore.Builder.WebApplication app) =>
        Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<CoordinatorEndpoints>(app.Services) is { DataPlane.IPEndPoint: { } bound } endpoints
            ? new Uri($"{(endpoints.DataPlaneTls ? "https" : "http")}://127.0.0.1:{bound.Port}")
            : null;
}
