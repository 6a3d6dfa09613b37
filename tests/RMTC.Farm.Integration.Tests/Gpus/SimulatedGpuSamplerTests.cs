using RMTC.Farm.Agent.Gpus;

namespace RMTC.Farm.Integration.Tests.Gpus;

/// <summary>The simulation stands in for GPUs on machines without them; its readings follow the agent's work.</summary>
public sealed class SimulatedGpuSamplerTests
{
    [Fact]
    public void Readings_move_with_busy()
    {
        var busy = false;
        var sampler = new SimulatedGpuSampler(2, "node-7", () => busy);
        Assert.True(sampler.TryInitialize());

        var idle = sampler.Sample();
        busy = true;
        var working = sampler.Sample();

        Assert.Equal(2, idle.Count);
        for (var i = 0; i < 2; i++)
        {
            Assert.True(working[i].UtilizationPercent >= 90, $"busy utilization {working[i].UtilizationPercent}");
            Assert.True(idle[i].UtilizationPercent <= 5, $"idle utilization {idle[i].UtilizationPercent}");
            Assert.True(working[i].MemoryUsedMib > idle[i].MemoryUsedMib);
            Assert.True(working[i].PowerWatts > idle[i].PowerWatts);
            Assert.True(working[i].TemperatureCelsius > idle[i].TemperatureCelsius);
            Assert.True(working[i].MemoryUsedMib <= working[i].MemoryTotalMib);
        }
    }

    [Fact]
    public void Every_sample_is_marked_simulated_with_stable_identities()
    {
        var samples = new SimulatedGpuSampler(3, "node-7", () => false).Sample();
        Assert.Equal(["GPU-sim-node-7-0", "GPU-sim-node-7-1", "GPU-sim-node-7-2"], samples.Select(s => s.Uuid));
        Assert.All(samples, s =>
        {
            Assert.True(s.Simulated);
            Assert.Equal(SimulatedGpuSampler.DeviceName, s.Name);
            Assert.Equal(SimulatedGpuSampler.MemoryTotalMib, s.MemoryTotalMib);
        });
        Assert.Equal(samples.Select(s => s.Uuid), new SimulatedGpuSampler(3, "node-7", () => true).Sample().Select(s => s.Uuid));
    }

    [Fact]
    public void At_least_one_GPU_is_simulated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SimulatedGpuSampler(0, "node-7", () => false));
    }
}
