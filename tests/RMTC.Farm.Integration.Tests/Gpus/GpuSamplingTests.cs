using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RMTC.Farm.Agent.Gpus;
using RMTC.Farm.Agent.Hosting;

namespace RMTC.Farm.Integration.Tests.Gpus;

/// <summary>The sampling service picks its source once and ticks on the injected clock (a fake one here: no sleeping).</summary>
public sealed class GpuSamplingTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static GpuSampling Create(AgentOptions options, TimeProvider time) =>
        new(Options.Create(options), new NvmlGpuSampler(), new NvidiaSmiGpuSampler(TimeSpan.FromSeconds(5)), time, NullLogger<GpuSampling>.Instance);

    [Fact]
    public void Without_GPUs_the_source_is_none_and_there_are_no_samples()
    {
        using var sampling = Create(new AgentOptions(), new FakeTimeProvider());
        Assert.Equal(GpuSource.None, sampling.SelectSource());
        sampling.SampleNow();
        Assert.Empty(sampling.Latest);
    }

    [Fact]
    public void The_simulation_is_chosen_when_configured()
    {
        using var sampling = Create(new AgentOptions { Id = "sim-node", SimulatedGpus = 2 }, new FakeTimeProvider());
        Assert.Equal(GpuSource.Simulated, sampling.SelectSource());
        sampling.SampleNow();
        Assert.Equal(["GPU-sim-sim-node-0", "GPU-sim-sim-node-1"], sampling.Latest.Select(s => s.Uuid));
        Assert.All(sampling.Latest, s => Assert.True(s.Simulated));
    }

    [Fact]
    public async Task Samples_are_taken_on_each_tick_of_the_clock_and_follow_busy()
    {
        var time = new FakeTimeProvider();
        using var sampling = Create(new AgentOptions { Id = "sim-node", SimulatedGpus = 1, GpuSampleIntervalMs = 1000 }, time);
        var busy = false;
        sampling.Busy = () => busy;

        await sampling.StartAsync(CancellationToken.None);
        try
        {
            // The first sample is taken at start, without waiting for a tick.
            Assert.True(SpinWait.SpinUntil(() => sampling.SampleCount >= 1, Wait));
            Assert.True(Assert.Single(sampling.Latest).UtilizationPercent <= 5);

            busy = true;
            time.Advance(TimeSpan.FromMilliseconds(999));
            Assert.Equal(1, sampling.SampleCount);
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.True(SpinWait.SpinUntil(() => sampling.SampleCount >= 2, Wait));
            Assert.True(Assert.Single(sampling.Latest).UtilizationPercent >= 90);

            busy = false;
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(SpinWait.SpinUntil(() => sampling.SampleCount >= 3, Wait));
            Assert.True(Assert.Single(sampling.Latest).UtilizationPercent <= 5);
        }
        finally
        {
            await sampling.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void A_sampler_that_throws_yields_no_samples_for_that_tick_only()
    {
        using var sampling = Create(new AgentOptions(), new FakeTimeProvider());
        var failing = new FlakySampler(new SimulatedGpuSampler(1, "node", () => true));
        sampling.UseSampler(GpuSource.Nvml, failing);

        sampling.SampleNow();
        Assert.Single(sampling.Latest);
        failing.Fail = true;
        sampling.SampleNow();
        Assert.Empty(sampling.Latest);
        failing.Fail = false;
        sampling.SampleNow();
        Assert.Single(sampling.Latest);
        Assert.Equal(3, sampling.SampleCount);
    }

    [Fact]
    public async Task Without_GPUs_the_service_samples_nothing_and_stops_quietly()
    {
        var time = new FakeTimeProvider();
        using var sampling = Create(new AgentOptions { GpuSampleIntervalMs = 1000 }, time);
        await sampling.StartAsync(CancellationToken.None);
        Assert.NotNull(sampling.ExecuteTask);
        await sampling.ExecuteTask!.WaitAsync(Wait);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, sampling.SampleCount);
        Assert.Empty(sampling.Latest);
        await sampling.StopAsync(CancellationToken.None);
    }

    private sealed class FlakySampler(IGpuSampler inner) : IGpuSampler
    {
        public bool Fail { get; set; }

        public bool TryInitialize() => true;

        public IReadOnlyList<RMTC.Farm.Protos.V1.GpuSample> Sample() =>
            Fail ? throw new InvalidOperationException("driver went away") : inner.Sample();
    }
}
