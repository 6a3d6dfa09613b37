using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>Registration of the data plane's parts.</summary>
public static class DataPlaneServiceCollectionExtensions
{
    /// <summary>
    /// Adds the data plane's options (validated on start), its uploads in progress, the directory of peer agents' caches, and Kestrel's larger receive blocks
    /// (<see cref="DataPlaneOptions.ReceiveBlockBytes"/>; registered after Kestrel's own pool factory, so it wins).
    /// </summary>
    public static IServiceCollection AddRmtcDataPlane(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DataPlaneOptions>()
            .BindConfiguration(DataPlaneOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.ReceiveBlockBytes is 0 or >= 4096,
                "Coordinator:DataPlane:ReceiveBlockBytes must be 0 (Kestrel's own 4 KiB blocks) or from 4096 to 1048576 (bytes per receive buffer block)")
            .ValidateOnStart();
        services.AddSingleton<UploadSessions>();
        services.AddSingleton<PeerDirectory>();
        var blocks = configuration.GetSection(DataPlaneOptions.Section).Get<DataPlaneOptions>()?.ReceiveBlockBytes ?? new DataPlaneOptions().ReceiveBlockBytes;
        if (blocks >= 4096)
        {
            services.AddSingleton<IMemoryPoolFactory<byte>>(new LargeBlockMemoryPoolFactory(blocks));
        }

        return services;
    }
}
