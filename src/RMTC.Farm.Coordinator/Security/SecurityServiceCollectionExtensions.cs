using Grpc.AspNetCore.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Explorer;
using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>Registration of who may talk to the coordinator: tokens, show scoping, size limits, dataset roots.</summary>
public static class SecurityServiceCollectionExtensions
{
    /// <summary>
    /// Adds the security settings (validated on start), the token check on every gRPC call (the submit-host check on
    /// OpenCue's), the gRPC message size limit, dataset confinement, the Explorer's token scope and the start-up report of what is left open.
    /// </summary>
    public static IServiceCollection AddRmtcCoordinatorSecurity(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SecurityOptions>()
            .Bind(configuration.GetSection(CoordinatorOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SecurityOptions>, SecurityOptionsValidation>();
        services.AddSingleton<FarmAccess>();
        services.AddSingleton<OpenCueAccess>();
        services.AddSingleton<DatasetConfinement>();
        services.AddSingleton<FarmAuthInterceptor>();
        services.AddSingleton<IExplorerScope, ShowExplorerScope>();
        services.AddHostedService<SecurityStartupReport>();
        // PostConfigure: AddGrpc's own defaults are configured after this registration and must not win. Read unvalidated:
        // the endpoints are mapped before validation on start, which then reports every bad setting at once.
        var maxMessageBytes = configuration.GetSection(CoordinatorOptions.Section).Get<SecurityOptions>()?.MaxMessageBytes ?? new SecurityOptions().MaxMessageBytes;
        services.AddOptions<GrpcServiceOptions>().PostConfigure(grpc =>
        {
            grpc.MaxReceiveMessageSize = maxMessageBytes;
            grpc.Interceptors.Add<FarmAuthInterceptor>();
        });
        return services;
    }
}
