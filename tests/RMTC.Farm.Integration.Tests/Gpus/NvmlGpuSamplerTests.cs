using RMTC.Farm.Agent.Gpus;

namespace RMTC.Farm.Integration.Tests.Gpus;

/// <summary>The test machines have no NVIDIA driver: NVML must report itself unavailable, not fail.</summary>
public sealed class NvmlGpuSamplerTests
{
    [Fact]
    public void Without_the_driver_NVML_is_unavailable_and_yields_no_samples()
    {
        using var nvml = new NvmlGpuSampler();
        Assert.False(nvml.TryInitialize());
        Assert.Empty(nvml.Sample());
        nvml.Dispose();
    }
}
