using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RMTC.Farm.Agent.Gpus;
using RMTC.Farm.Agent.Hosting;

namespace RMTC.Farm.Integration.Tests.Gpus;

/// <summary>The agent's registration runs one sampling service, the same instance heartbeats read from.</summary>
public sealed class GpuSamplingRegistrationTests
{
    [Fact]
    public void The_hosted_sampling_is_the_singleton_heartbeats_read()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Agent:SimulatedGpus"] = "2", ["Agent:GpuSampleIntervalMs"] = "250" })
            .Build();
        var services = new ServiceCollection().AddLogging().AddRmtcAgent(configuration);
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        var sampling = provider.GetRequiredService<GpuSampling>();
        Assert.Contains(sampling, provider.GetServices<IHostedService>());
        Assert.Equal(GpuSource.Simulated, sampling.SelectSource());
    }
}
