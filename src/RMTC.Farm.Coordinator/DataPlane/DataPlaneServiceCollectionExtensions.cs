using Microsoft.Extensions.DependencyInjection;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>Registration of the data plane's parts.</summary>
public static class DataPlaneServiceCollectionExtensions
{
    /// <summary>Adds the data plane's options (validated on start) and its uploads in progress.</summary>
    public static IServiceCollection AddRmtcDataPlane(this IServiceCollection services)
    {
        services.AddOptions<DataPlaneOptions>()
            .BindConfiguration(DataPlaneOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<UploadSessions>();
        return services;
    }
}
