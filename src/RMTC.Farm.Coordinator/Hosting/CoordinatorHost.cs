using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace RMTC.Farm.Coordinator.Hosting;

/// <summary>Builds the coordinator's web host (Kestrel, HTTP/2 cleartext gRPC).</summary>
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
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var options = context.Configuration.GetSection(CoordinatorOptions.Section).Get<CoordinatorOptions>() ?? new CoordinatorOptions();
            var address = options.ListenAddress is "localhost" ? IPAddress.Loopback
                : IPAddress.TryParse(options.ListenAddress, out var parsed) ? parsed
                : throw new InvalidOperationException($"Coordinator:ListenAddress '{options.ListenAddress}' is not an IP address: use e.g. 127.0.0.1 or 0.0.0.0");
            kestrel.Listen(address, options.Port, listen => listen.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        app.MapRmtcCoordinator();
        return app;
    }

    /// <summary>The address agents and wranglers use, once the app has started (resolves port 0).</summary>
    public static Uri BoundAddress(this WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var first = addresses?.FirstOrDefault() ?? throw new InvalidOperationException("the coordinator is not listening yet");
        return new Uri(first.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }
}
