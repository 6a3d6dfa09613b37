using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Execution;
using RMTC.Farm.Agent.Execution.Simulation;
using RMTC.Farm.Agent.Execution.Supervision;
using RMTC.Farm.Agent.Execution.Trainer;
using RMTC.Farm.Agent.Execution.Transfers;
using RMTC.Farm.Agent.Gpus;
using RMTC.Farm.Agent.Session;
using RMTC.Farm.Agent.Weights;
using RMTC.Farm.Agent.Yielding;
using RMTC.Farm.Protos.Client;

namespace RMTC.Farm.Agent.Hosting;

/// <summary>Registration of the agent daemon in a host.</summary>
public static class AgentServiceCollectionExtensions
{
    /// <summary>A list in configuration (<c>"Coordinator": ["http://a:7460", "http://b:7460"]</c>) as one comma-separated setting; null when it is not a list.</summary>
    private static string? CoordinatorList(IConfigurationSection section)
    {
        var items = section.GetChildren().Select(c => c.Value).Where(v => !string.IsNullOrWhiteSpace(v)).ToList();
        return items.Count > 0 ? string.Join(',', items) : null;
    }

    private static bool IsAddressList(string? text)
    {
        try
        {
            CoordinatorAddresses.Parse(text, "Agent:Coordinator");
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Adds the agent: options (validated on start), the weights cache and its peer data plane, the shard executor (inputs, cold or warm trainers or their simulation, uploads), GPU sampling and the session loop.</summary>
    public static IServiceCollection AddRmtcAgent(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AgentOptions>()
            .Bind(configuration.GetSection(AgentOptions.Section))
            .ValidateDataAnnotations()
            .PostConfigure(o => o.Coordinator = CoordinatorList(configuration.GetSection(AgentOptions.Section).GetSection(nameof(AgentOptions.Coordinator))) ?? o.Coordinator)
            .Validate(o => IsAddressList(o.Coordinator),
                "Agent:Coordinator must be an address such as http://127.0.0.1:7460, or several (a leader and its standbys) separated by commas or as a list")
            .Validate(o => string.IsNullOrWhiteSpace(o.TokenFile) || File.Exists(o.TokenFile),
                "Agent:TokenFile (--token-file) names no readable file: write the farm token (the coordinator's Coordinator:AgentTokenFile) there")
            .Validate(o => string.IsNullOrWhiteSpace(o.CaFile) || File.Exists(o.CaFile),
                "Agent:CaFile (--ca) names no readable file: give the farm CA's PEM certificate that signed the coordinator's TLS certificate")
            .Validate(o => string.IsNullOrWhiteSpace(o.ClientCertificatePath) || (File.Exists(o.ClientCertificatePath) && (string.IsNullOrWhiteSpace(o.ClientKeyPath) || File.Exists(o.ClientKeyPath))),
                "Agent:ClientCertificatePath / Agent:ClientKeyPath name no readable file: give the agent's PEM client certificate and key (signed by the coordinator's Coordinator:Tls:AgentCaPath)")
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<AgentOptions>, TrainerOptionsValidation>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<TransferCounters>();
        services.AddSingleton<WeightsCache>();
        services.AddSingleton<DataPlaneLink>();
        services.AddSingleton<PeerLinks>();
        // Bound before the session starts, so the first registration can name it.
        services.AddSingleton<PeerCacheServer>();
        services.AddHostedService(sp => sp.GetRequiredService<PeerCacheServer>());
        services.AddSingleton<InputFetcher>();
        services.AddSingleton<ResultUploader>();
        services.AddSingleton<TrainerSupervisor>();
        services.AddSingleton<TrainerShardRunner>();
        // The simulation replaces the trainer only where configured, and says so in every result it reports.
        services.AddSingleton<WarmTrainerPool>();
        services.AddHostedService(sp => sp.GetRequiredService<WarmTrainerPool>());
        services.AddSingleton<IShardRunner>(sp => sp.GetRequiredService<IOptions<AgentOptions>>().Value switch
        {
            { SimulateTrainingMs: > 0 } => ActivatorUtilities.CreateInstance<SimulatedTrainingRunner>(sp),
            { Trainer.IsWarm: true } => sp.GetRequiredService<WarmTrainerPool>(),
            _ => sp.GetRequiredService<TrainerShardRunner>(),
        });
        services.AddSingleton<ShardExecutor>();
        services.AddSingleton<NvmlGpuSampler>();
        services.AddSingleton(_ => new NvidiaSmiGpuSampler());
        services.AddSingleton<GpuSampling>();
        services.AddHostedService(sp => sp.GetRequiredService<GpuSampling>());
        services.AddOptions<YieldOptions>()
            .Bind(configuration.GetSection(YieldOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<YieldMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<YieldMonitor>());
        services.AddHostedService<AgentWorker>();
        services.AddSingleton<AgentMetricsEndpoint>();
        services.AddHostedService(sp => sp.GetRequiredService<AgentMetricsEndpoint>());
        return services;
    }
}
