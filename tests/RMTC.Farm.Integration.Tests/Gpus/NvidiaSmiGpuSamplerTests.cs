using RMTC.Farm.Agent.Gpus;

namespace RMTC.Farm.Integration.Tests.Gpus;

/// <summary>nvidia-smi sampling parses output recorded on real nodes (no GPU exists on the test machines).</summary>
public sealed class NvidiaSmiGpuSamplerTests
{
    [Fact]
    public void Recorded_output_of_a_four_GPU_node_is_read()
    {
        const string recorded = """
            0, GPU-5c1e6f2a-0b8e-4f0c-9a1e-2d6f7e8c9b10, NVIDIA RTX A6000, 97, 40122, 49140, 287.41, 78
            1, GPU-7d2f8a3b-1c9f-4e1d-8b2f-3e7a8f9dac21, NVIDIA RTX A6000, 0, 4, 49140, 21.93, 34
            2, GPU-8e3a9b4c-2daf-4f2e-9c3a-4f8b9aaebd32, NVIDIA H100 80GB HBM3, 100, 80000, 81559, 699.10, 81
            3, GPU-9f4bac5d-3eba-4a3f-ad4b-5a9cabbfce43, NVIDIA H100 80GB HBM3, 12, 1024, 81559, 120.00, 45
            """;
        var samples = NvidiaSmiGpuSampler.Parse(recorded);
        Assert.Equal(4, samples.Count);
        var first = samples[0];
        Assert.Equal((0u, "GPU-5c1e6f2a-0b8e-4f0c-9a1e-2d6f7e8c9b10", "NVIDIA RTX A6000"), (first.Index, first.Uuid, first.Name));
        Assert.Equal((97u, 40122UL, 49140UL, 287.41, 78.0), (first.UtilizationPercent, first.MemoryUsedMib, first.MemoryTotalMib, first.PowerWatts, first.TemperatureCelsius));
        Assert.False(first.Simulated);
        Assert.Equal("NVIDIA H100 80GB HBM3", samples[2].Name);
        Assert.Equal(3u, samples[3].Index);
        Assert.All(samples, s => Assert.True(s.HasUtilizationPercent && s.HasPowerWatts && s.HasTemperatureCelsius));
    }

    [Fact]
    public void Readings_the_driver_cannot_give_are_missing_not_zero()
    {
        const string recorded = """
            0, GPU-1, NVIDIA GeForce GTX 1080, [N/A], 512, 8192, [Not Supported], 40
            1, MIG-2, NVIDIA A100-SXM4-40GB MIG 1g.5gb, N/A, , 4864, [N/A], [N/A]
            """;
        var samples = NvidiaSmiGpuSampler.Parse(recorded);
        Assert.Equal(2, samples.Count);
        Assert.False(samples[0].HasUtilizationPercent);
        Assert.False(samples[0].HasPowerWatts);
        Assert.Equal((512UL, 8192UL, 40.0), (samples[0].MemoryUsedMib, samples[0].MemoryTotalMib, samples[0].TemperatureCelsius));
        Assert.False(samples[1].HasUtilizationPercent);
        Assert.False(samples[1].HasMemoryUsedMib);
        Assert.True(samples[1].HasMemoryTotalMib);
        Assert.False(samples[1].HasPowerWatts);
        Assert.False(samples[1].HasTemperatureCelsius);
    }

    [Fact]
    public void A_name_with_commas_does_not_shift_the_readings()
    {
        var sample = Assert.Single(NvidiaSmiGpuSampler.Parse("0, GPU-1, Tesla, Custom, 50, 100, 200, 30.5, 60\n"));
        Assert.Equal("Tesla, Custom", sample.Name);
        Assert.Equal((50u, 100UL, 200UL, 30.5, 60.0), (sample.UtilizationPercent, sample.MemoryUsedMib, sample.MemoryTotalMib, sample.PowerWatts, sample.TemperatureCelsius));
    }

    [Fact]
    public void Garbage_lines_are_skipped()
    {
        const string recorded = """
            NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.
            index, uuid, name, utilization.gpu [%], memory.used [MiB], memory.total [MiB], power.draw [W], temperature.gpu
            0, GPU-1, short row
            1, GPU-2, NVIDIA L4, 5, 300, 23034, 16.2, 39
            """;
        var sample = Assert.Single(NvidiaSmiGpuSampler.Parse(recorded));
        Assert.Equal(1u, sample.Index);
    }

    [Fact]
    public void Empty_output_means_no_GPUs()
    {
        Assert.Empty(NvidiaSmiGpuSampler.Parse(""));
        Assert.Empty(NvidiaSmiGpuSampler.Parse("\n  \n"));
    }

    [Fact]
    public void Without_nvidia_smi_the_sampler_is_unavailable_and_does_not_throw()
    {
        Assert.False(new NvidiaSmiGpuSampler(TimeSpan.FromSeconds(5)).TryInitialize());
    }
}
