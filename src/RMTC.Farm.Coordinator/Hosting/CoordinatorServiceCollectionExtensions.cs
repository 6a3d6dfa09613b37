using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using RMTC.Farm.Coordinator.DataPlane;
using RMTC.Farm.Coordinator.Explorer;
using RMTC.Farm.Coordinator.Leadership;
using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Coordinator.Metrics;
using RMTC.Farm.Coordinator.OpenCue;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Coordinator.Services;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Coordinator.Storage.Redis;
using StackExchange.Redis;

namespace RMTC.Farm.Coordinator.Hosting;

/// <summary>Registration of the coordinator in a host.</summary>
public static class CoordinatorServiceCollectionExtensions
{
    /// <summary>Adds the coordinator: options (validated on start), stores, scheduler, lease expiry and gRPC.</summary>
    public static IServiceCollection AddRmtcCoordinator(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CoordinatorOptions>()
            .Bind(configuration.GetSection(CoordinatorOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<CoordinatorOptions>, RedisOptionsValidator>();
        services.AddRmtcCoordinatorSecurity(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IArtifactStore, FileArtifactStore>();
        AddRunStore(services, CoordinatorOptions.ConfiguresRedis(configuration.GetSection(CoordinatorOptions.Section)));
        services.AddSingleton<CoordinatorEndpoints>();
        services.AddSingleton<FarmMetrics>();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(FarmMetrics.MeterName)
            .AddView("rmtc_round_duration", new ExplicitBucketHistogramConfiguration { Boundaries = FarmMetrics.DurationBuckets })
            .AddView("rmtc_merge_duration", new ExplicitBucketHistogramConfiguration { Boundaries = FarmMetrics.DurationBuckets })
            .AddView("rmtc_lease_wait", new ExplicitBucketHistogramConfiguration { Boundaries = FarmMetrics.WaitBuckets })
            .AddView("rmtc_dispatch_latency", new ExplicitBucketHistogramConfiguration { Boundaries = FarmMetrics.WaitBuckets })
            .AddPrometheusExporter());
        services.AddSingleton(sp => new RunJournal(
            sp.GetRequiredService<IRunStore>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<ILogger<RunJournal>>(),
            TimeSpan.FromMilliseconds(sp.GetRequiredService<IOptions<CoordinatorOptions>>().Value.JournalCommitWindowMs)));
        services.AddSingleton<LineageQueries>();
        services.AddSingleton<DerivationLog>();
        services.AddSingleton<Models.OnnxExports>();
        services.AddSingleton<FarmScheduler>();
        services.AddSingleton<Submission.SubmissionPipeline>();
        services.AddSingleton<Intake.ResultIntake>();
        services.AddRmtcDataPlane(configuration);
        services.TryAddSingleton<Explorer.IExplorerScope, Explorer.OpenExplorerScope>();
        services.AddSingleton<Explorer.ExplorerApi>();
        // With leadership on, runs are recovered once this coordinator takes the leader lease, not at start.
        if (!services.AddRmtcLeadership(configuration))
        {
            services.AddHostedService<RunRecoveryService>();
        }

        services.AddHostedService<LeaseReaper>();
        services.AddGrpc(o =>
        {
            o.EnableDetailedErrors = true;
            // Weights travel in chunks of at most 1 MiB; anything bigger is a client bug (Coordinator:MaxMessageBytes overrides).
            o.MaxReceiveMessageSize = 2 * 1024 * 1024;
            // First, so it bounds every refusal, the token check's included.
            o.Interceptors.Add<Services.BoundedStatusInterceptor>();
        });
        return services;
    }

    /// <summary>Redis when configured (the farm: standalone, or behind Sentinel), else the embedded file store (one machine).</summary>
    private static void AddRunStore(IServiceCollection services, bool redis)
    {
        if (!redis)
        {
            services.AddSingleton<IRunStore, FileRunStore>();
            return;
        }

        services.AddSingleton<IConnectionMultiplexer>(sp => RedisConnection.Connect(sp.GetRequiredService<IOptions<CoordinatorOptions>>().Value));
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<CoordinatorOptions>>().Value;
            return new ReplicaWait(o.EffectiveRedisMinReplicas, TimeSpan.FromMilliseconds(o.RedisReplicaTimeoutMs), sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        });
        services.AddSingleton<IRunStore, RedisRunStore>();
    }

    /// <summary>Maps the coordinator's gRPC services.</summary>
    public static IEndpointRouteBuilder MapRmtcCoordinator(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<AgentGrpcService>();
        endpoints.MapGrpcService<JobGrpcService>();
        endpoints.MapGrpcService<LineageGrpcService>();
        endpoints.MapOpenCue();
        endpoints.MapGrpcService<ModelGrpcService>();
        endpoints.MapExplorer();
        endpoints.MapDataPlane();
        return endpoints;
    }
}
