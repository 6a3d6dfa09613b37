using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Leadership;
using RMTC.Farm.Coordinator.Metrics;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests.Fixtures;
using StackExchange.Redis;

namespace RMTC.Farm.Integration.Tests.Leadership;

/// <summary>
/// The leadership state wired to the real Redis store: a write refused by the fence steps the coordinator down (no
/// more serving, no more writing, the host told to stop), and the refusal and the takeover are counted.
/// </summary>
public sealed class StepDownTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task A_write_refused_by_the_fence_steps_the_leader_down_and_is_counted()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var measured = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FarmMetrics.MeterName && instrument.Name.StartsWith("rmtc_coordinator_", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            lock (measured)
            {
                measured[instrument.Name] = measured.GetValueOrDefault(instrument.Name) + value;
            }
        });
        listener.SetMeasurementEventCallback<int>((instrument, value, _, _) =>
        {
            lock (measured)
            {
                measured[instrument.Name] = value;
            }
        });
        listener.Start();

        var lifetime = new StoppingLifetime();
        var leadership = new CoordinatorLeadership(
            Options.Create(new LeadershipOptions { Enabled = true, AdvertisedAddress = "http://127.0.0.1:1" }),
            new LeadershipMetrics(services.GetRequiredService<IMeterFactory>()), lifetime, NullLogger<CoordinatorLeadership>.Instance);
        await using var mux = await redis.ConnectAsync();
        var store = new RedisRunStore(mux, NullLogger<RedisRunStore>.Instance, leadership);
        var lease = new LeaderLease(mux);

        Assert.False(leadership.Serving);
        var held = await lease.TryAcquireAsync("http://127.0.0.1:1", TimeSpan.FromMinutes(1));
        leadership.Acquired(held.Token);
        leadership.Serve();
        listener.RecordObservableInstruments();
        Assert.True(leadership.Serving);
        Assert.Equal(1, measured["rmtc_coordinator_leader"]);
        Assert.Equal(1, measured["rmtc_coordinator_takeovers"]);
        await store.AppendEventsAsync("fenced-run", [LineageEvent.Next(null, DateTimeOffset.UnixEpoch, "submitted", new System.Text.Json.Nodes.JsonObject())]);

        // Paused past its lease: another coordinator takes it, with a newer token.
        await lease.ReleaseAsync(held);
        var newer = await lease.TryAcquireAsync("http://127.0.0.1:2", TimeSpan.FromMinutes(1));
        Assert.True(newer.Mine);

        await Assert.ThrowsAsync<StoreFencedException>(() => store.AppendEventsAsync("fenced-run", [LineageEvent.Next(null, DateTimeOffset.UnixEpoch, "stale", new System.Text.Json.Nodes.JsonObject())]));
        Assert.Equal(LeaderPhase.SteppedDown, leadership.Phase);
        Assert.False(leadership.Serving);
        Assert.Equal(0, leadership.Token);
        Assert.True(leadership.SteppedDownToken.IsCancellationRequested);
        Assert.True(lifetime.StopRequested);
        Assert.Contains($"token {newer.Token}", leadership.SteppedDownBecause, StringComparison.Ordinal);
        listener.RecordObservableInstruments();
        Assert.Equal(0, measured["rmtc_coordinator_leader"]);
        Assert.Equal(1, measured["rmtc_coordinator_fencing_refusals"]);

        // Stepped down, it asks Redis nothing more: the next write is refused here, and not counted again.
        await Assert.ThrowsAsync<StoreFencedException>(() => store.SaveAsync("fenced-run", "{}", 5));
        Assert.Equal(1, measured["rmtc_coordinator_fencing_refusals"]);
        Assert.Single(await store.ReadEventsAsync("fenced-run"));
        await lease.ReleaseAsync(newer);
    }

    private sealed class StoppingLifetime : IHostApplicationLifetime
    {
        public bool StopRequested { get; private set; }
        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => CancellationToken.None;
        public CancellationToken ApplicationStopped => CancellationToken.None;
        public void StopApplication() => StopRequested = true;
    }
}
