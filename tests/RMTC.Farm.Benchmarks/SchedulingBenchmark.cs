using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Coordinator.Metrics;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// The scheduler and the round loop at scale, with SIMULATED training: real agent code (sessions, heartbeats, weight
/// fetches, uploads, fencing) hosted in this process, each agent's training replaced by a fixed wait
/// (<see cref="AgentOptions.SimulateTrainingMs"/>) that returns the global weights unchanged.
/// </summary>
internal static class SchedulingBenchmark
{
    /// <summary>Leases per second and ready-to-lease latency with many agents and many shards.</summary>
    public static async Task RunLeasesAsync(ResultTable table, int agents, int shards, int trainMs)
    {
        const int ShardsPerRun = 500;
        var runs = Math.Max(1, shards / ShardsPerRun);
        Console.WriteLine($"scheduling: {agents} simulated agents, {runs * ShardsPerRun:N0} shards ({runs} runs x {ShardsPerRun}), training simulated as {trainMs} ms");
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 120_000, heartbeatMs: 2000);
        var data = Path.Combine(farm.Root, "data");
        RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", data, ShardsPerRun, seed: 1);
        var roundTrips = await RoundTripsPerSecondAsync(farm);
        var hosts = await StartAgentsAsync(farm, agents, trainMs);
        try
        {
            using var waits = new WaitRecorder();
            var sw = Stopwatch.StartNew();
            var ids = new List<string>();
            for (var r = 0; r < runs; r++)
            {
                ids.Add(farm.Scheduler.SubmitPrepared(new JobSubmission { SpecYaml = $"name: sched-{r}\nrecipe: classifier\ndataset: {data}\nshards: {ShardsPerRun}\nrounds: 1\n", SourceName = "bench.yaml" }).Id);
            }

            await WaitForRunsAsync(farm, ids, TimeSpan.FromMinutes(30), sw);
            var seconds = sw.Elapsed.TotalSeconds;
            var leases = ids.Sum(id => farm.Scheduler.GetManifest(id)!.Rounds.Sum(r => r.Attempts.Count));
            var (p50, p99) = waits.Percentiles();
            var attempts = ids.SelectMany(id => farm.Scheduler.GetManifest(id)!.Rounds.SelectMany(r => r.Attempts)).ToList();
            var held = attempts.Where(a => a.EndedAt is not null).Select(a => (a.EndedAt!.Value - a.StartedAt).TotalMilliseconds).Order().ToArray();
            var idle = attempts.GroupBy(a => a.AgentId).SelectMany(g =>
            {
                var list = g.OrderBy(a => a.StartedAt).ToList();
                return list.Zip(list.Skip(1), (x, y) => (y.StartedAt - (x.EndedAt ?? x.StartedAt)).TotalMilliseconds);
            }).Order().ToArray();
            Console.WriteLine($"  lease held (granted to result accepted) p50 {held[held.Length / 2]:F1} ms, p99 {held[(int)(held.Length * 0.99)]:F1} ms; agent idle between leases p50 {idle[idle.Length / 2]:F1} ms, p99 {idle[(int)(idle.Length * 0.99)]:F1} ms");
            var ideal = agents * 1000.0 / trainMs;
            Console.WriteLine($"  {leases:N0} leases in {seconds:F1} s: {leases / seconds:N0} leases/s; ready-to-lease p50 {p50 * 1000:F2} ms, p99 {p99 * 1000:F2} ms");
            table.Add($"leases granted ({agents} agents, {leases:N0} shards)", leases / seconds, "leases/s", Math.Min(ideal, 10_000), ideal < 10_000 ? $"agents x 1/training = {ideal:N0}" : "target 10,000", ">= 10,000/s");
            // A lease takes at least three round trips (the assignment, the weights fetch, the result upload), each
            // dearer than an empty call: this machine's ceiling for the whole path, whatever the scheduler does.
            Console.WriteLine($"  this machine: {roundTrips:N0} empty gRPC round trips/s on loopback (64 callers); a lease needs >= 3, so <= {roundTrips / 3:N0} leases/s");
            table.Add("  leases against this machine's gRPC ceiling", leases / seconds, "leases/s", roundTrips / 3, "empty round trips/s / 3", "report");
            table.Add("  ready-to-lease p50", p50 * 1000, "ms", 20, "target p99", "report", higherIsBetter: false);
            table.Add("  ready-to-lease p99", p99 * 1000, "ms", 20, "target p99", "< 20 ms", higherIsBetter: false);
        }
        finally
        {
            await StopAsync(farm, hosts);
        }
    }

    /// <summary>Round wall time minus the (simulated) training time with every shard on its own agent.</summary>
    public static async Task RunRoundOverheadAsync(ResultTable table, int agents, int rounds)
    {
        const int TrainMs = 1000;
        Console.WriteLine($"round overhead: {agents} simulated agents, training simulated as exactly {TrainMs} ms, {rounds} rounds");
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 120_000, heartbeatMs: 1000);
        var data = Path.Combine(farm.Root, "data");
        RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", data, agents * 4, seed: 2);
        var hosts = await StartAgentsAsync(farm, agents, TrainMs);
        try
        {
            var id = farm.Scheduler.SubmitPrepared(new JobSubmission { SpecYaml = $"name: rounds\nrecipe: classifier\ndataset: {data}\nshards: {agents}\nrounds: {rounds + 1}\n", SourceName = "bench.yaml" }).Id;
            await WaitForRunsAsync(farm, [id], TimeSpan.FromMinutes(10), Stopwatch.StartNew());
            // Round 1 includes every agent's first weights fetch and JIT warm-up: the steady state is the later rounds.
            var overheads = farm.Scheduler.GetManifest(id)!.Rounds.Skip(1)
                .Select(r => (r.EndedAt!.Value - r.StartedAt).TotalMilliseconds - TrainMs).ToArray();
            Console.WriteLine($"  overhead per round (ms): {string.Join(", ", overheads.Select(o => o.ToString("F1", CultureInfo.InvariantCulture)))}");
            table.Add($"round overhead ({agents} agents, 1 s training)", overheads.Average(), "ms", 50, "target 50 ms + transfer + merge", "< 50 ms", higherIsBetter: false);
        }
        finally
        {
            await StopAsync(farm, hosts);
        }
    }

    /// <summary>
    /// Empty unary calls per second (ListJobs on an empty farm) from 64 concurrent callers over 3 s, through the same
    /// server, interceptors and loopback as the agents: the most round trips this machine completes, measured here.
    /// </summary>
    private static async Task<double> RoundTripsPerSecondAsync(FarmFixture farm)
    {
        const int Callers = 64;
        var request = new ListJobsRequest();
        for (var i = 0; i < 200; i++)
        {
            await farm.Jobs.ListJobsAsync(request);
        }

        long calls = 0;
        var clock = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(3);
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(async _ =>
        {
            while (clock.Elapsed < until)
            {
                await farm.Jobs.ListJobsAsync(request);
                Interlocked.Increment(ref calls);
            }
        }));
        return calls / clock.Elapsed.TotalSeconds;
    }

    private static async Task<List<IHost>> StartAgentsAsync(FarmFixture farm, int count, int trainMs)
    {
        var hosts = new List<IHost>(count);
        var nodes = NodeDisks(farm);
        for (var i = 0; i < count; i++)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Agent:Coordinator"] = farm.Address,
                ["Agent:Id"] = $"sim-{i:D4}",
                ["Agent:Slots"] = "1",
                ["Agent:Gpus"] = "0",
                ["Agent:WorkDirectory"] = Path.Combine(nodes, i.ToString(CultureInfo.InvariantCulture)),
                ["Agent:SimulateTrainingMs"] = trainMs.ToString(CultureInfo.InvariantCulture),
                ["Agent:GpuSampleIntervalMs"] = "600000",
                // Each agent would serve its cache to peers on a listener of its own: a thousand Kestrel servers in
                // this one process (out of memory here). Scheduling is what is measured; the peers benchmark has peers.
                ["Agent:PeerDataPlane:Port"] = "-1",
            });
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Services.AddRmtcAgent(builder.Configuration);
            var host = builder.Build();
            await host.StartAsync();
            hosts.Add(host);
        }

        // Every agent registered and in session before the clock starts.
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (farm.Scheduler.ConnectedAgents < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        return hosts;
    }

    /// <summary>
    /// Where the simulated nodes keep their weights caches. Each render node has a disk of its own; a thousand of them
    /// creating files on the coordinator's disk would queue their file creation behind its journal's fsyncs, which no
    /// farm does. So they live in memory (/dev/shm) where there is one, beside the farm's data otherwise.
    /// </summary>
    private static string NodeDisks(FarmFixture farm) =>
        Directory.Exists("/dev/shm") ? Path.Combine("/dev/shm", "rmtc-bench-" + Path.GetFileName(farm.Root)) : Path.Combine(farm.Root, "agents");

    private static async Task StopAsync(FarmFixture farm, List<IHost> hosts)
    {
        await Task.WhenAll(hosts.Select(async h =>
        {
            await h.StopAsync();
            h.Dispose();
        }));
        if (Directory.Exists(NodeDisks(farm)))
        {
            Directory.Delete(NodeDisks(farm), recursive: true);
        }
    }

    private static async Task WaitForRunsAsync(FarmFixture farm, IReadOnlyList<string> ids, TimeSpan limit, Stopwatch clock)
    {
        var next = TimeSpan.FromSeconds(5);
        while (true)
        {
            var states = ids.Select(id => farm.Scheduler.GetJob(id)!).ToList();
            if (states.All(j => RunStates.IsFinal(j.State)))
            {
                var failed = states.FirstOrDefault(j => j.State != RunStates.Succeeded);
                if (failed is not null)
                {
                    throw new InvalidOperationException($"run {failed.Id} ended {failed.State}: {failed.Error}");
                }

                return;
            }

            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"runs not done after {limit}");
            }

            if (clock.Elapsed > next)
            {
                var done = states.Sum(j => (long)j.ShardsDone);
                Console.WriteLine($"  ... {clock.Elapsed.TotalSeconds:F0} s: {done:N0} shards done, {states.Sum(j => (long)j.ShardsQueued):N0} queued");
                next += TimeSpan.FromSeconds(5);
            }

            // Polling status costs the coordinator's lock like any client's would: not too often.
            await Task.Delay(250);
        }
    }

    /// <summary>Every recorded dispatch latency: a queued shard and a free fitting slot both exist, until the lease (rmtc_dispatch_latency, raw values).</summary>
    private sealed class WaitRecorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<double> _values = new();

        public WaitRecorder()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == FarmMetrics.MeterName && instrument.Name == "rmtc_dispatch_latency")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, value, _, _) =>
            {
                lock (_values)
                {
                    _values.Add(value);
                }
            });
            _listener.Start();
        }

        public (double P50, double P99) Percentiles()
        {
            lock (_values)
            {
                if (_values.Count == 0)
                {
                    return (double.NaN, double.NaN);
                }

                var sorted = _values.Order().ToArray();
                return (sorted[sorted.Length / 2], sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))]);
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
