using Grpc.AspNetCore.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Storage;

namespace RMTC.Farm.Coordinator.Leadership;

/// <summary>Registration of leader election in the coordinator.</summary>
public static class LeadershipServiceCollectionExtensions
{
    /// <summary>
    /// Adds leadership's options (validated on start) and state; when <c>Coordinator:Leadership:Enabled</c>, also the
    /// election loop (which recovers the runs once this coordinator leads), the fenced store writes and the gRPC gate.
    /// Returns whether leadership is on: when it is not, the caller recovers the runs at start as a lone coordinator does.
    /// </summary>
    public static bool AddRmtcLeadership(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(LeadershipOptions.Section);
        services.AddOptions<LeadershipOptions>()
            .Bind(section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<LeadershipOptions>, LeadershipOptionsValidator>();
        services.AddSingleton<LeadershipMetrics>();
        services.AddSingleton<CoordinatorLeadership>();
        // Without Redis the options fail validation at start, naming the fix; nothing is registered that needs Redis.
        if (!(section.Get<LeadershipOptions>()?.Enabled ?? false) || !CoordinatorOptions.ConfiguresRedis(configuration.GetSection(CoordinatorOptions.Section)))
        {
            return false;
        }

        services.AddSingleton<IStoreFence>(sp => sp.GetRequiredService<CoordinatorLeadership>());
        services.AddSingleton<LeaderLease>();
        services.AddHostedService<LeaderElectionService>();
        services.Configure<GrpcServiceOptions>(o => o.Interceptors.Add<LeadershipGateInterceptor>());
        return true;
    }
}
