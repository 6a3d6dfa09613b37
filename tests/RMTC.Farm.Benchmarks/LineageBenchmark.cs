using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests.Fixtures;
using StackExchange.Redis;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// Lineage in Redis: manifest events written per second against raw pipelined RPUSH of the same bytes, and reverse
/// query latency with many runs stored against a PING round trip, all on one redis-server started for the run.
/// </summary>
internal static class LineageBenchmark
{
    private const int Writers = 64;
    private const int EventsPerWriter = 3000;

    public static async Task RunAsync(ResultTable table, int runs)
    {
        Console.WriteLine($"lineage: starting redis-server; {Writers * EventsPerWriter:N0} events, then {runs:N0} runs for reverse queries");
        using var redis = await RedisServer.StartAsync();
        using var mux = await ConnectionMultiplexer.ConnectAsync($"{redis.Endpoint},abortConnect=false,syncTimeout=60000,asyncTimeout=60000");
        var db = mux.GetDatabase();
        var store = new RedisRunStore(mux, NullLogger<RedisRunStore>.Instance);

        // Limits of this machine and this Redis, measured now.
        var ping = await LatenciesAsync(2000, () => db.PingAsync());
        var payload = Chain("probe", 1)[0].ToJson();
        var raw = await ThroughputAsync(Writers, EventsPerWriter, (w, _) => db.ListRightPushAsync($"bench:raw:{w}", payload));

        // Ours: each writer is a run appending its chain one event per call, as the journal does for single events.
        var chains = Enumerable.Range(0, Writers).Select(w => Chain($"bench-{w}", EventsPerWriter)).ToArray();
        var ours = await ThroughputAsync(Writers, EventsPerWriter, (w, i) => store.AppendEventsAsync($"bench-{w}", [chains[w][i]]));
        table.Add("lineage events written", ours, "events/s", raw, "raw pipelined RPUSH, same bytes", "report");

        // Reverse queries with many runs on record.
        var sw = Stopwatch.StartNew();
        await PopulateAsync(store, runs);
        Console.WriteLine($"  populated {runs:N0} runs in {sw.Elapsed.TotalSeconds:F1} s");
        var random = new Random(1);
        var lookup = await LatenciesAsync(2000, () => store.LookupAsync(LineageIndexKinds.Asset, Digest("asset", random.Next(AssetPool(runs)))));
        var dataDir = Directory.CreateTempSubdirectory("rmtc-bench-").FullName;
        try
        {
            var queries = new LineageQueries(store, new FileArtifactStore(Options.Create(new CoordinatorOptions { DataDirectory = dataDir })));
            var trace = await LatenciesAsync(200, () => queries.TraceDownAsync(Digest("dataset", random.Next(Datasets(runs))), CancellationToken.None));
            table.Add("reverse lookup p50 (asset -> runs)", lookup.P50, "us", ping.P50, "PING round trip p50", "report", higherIsBetter: false);
            table.Add("reverse lookup p99", lookup.P99, "us", ping.P99, "PING round trip p99", "report", higherIsBetter: false);
            table.Add($"trace --down p50 (~{runs / Datasets(runs)} runs/dataset)", trace.P50, "us", ping.P50, "PING round trip p50", "report", higherIsBetter: false);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static int Datasets(int runs) => Math.Max(1, runs / 100);

    private static int AssetPool(int runs) => Math.Max(10, runs * 2);

    /// <summary>Runs with a dataset (100 runs each), 10 assets from a shared pool, and a model: manifests and index entries.</summary>
    private static async Task PopulateAsync(IRunStore store, int runs)
    {
        var random = new Random(7);
        const int batch = 500;
        for (var start = 0; start < runs; start += batch)
        {
            var tasks = new List<Task>(batch * 2);
            for (var r = start; r < Math.Min(runs, start + batch); r++)
            {
                var id = $"run-{r}";
                var dataset = Digest("dataset", r % Datasets(runs));
                var model = Digest("model", r);
                var manifest = new RunManifest
                {
                    RunId = id,
                    Name = "bench",
                    State = RunStates.Succeeded,
                    Recipe = "classifier",
                    Dataset = new DatasetRecord { Name = "bench", Version = "1", Digest = dataset, Samples = 10 },
                    FinalModelDigest = model,
                };
                var entries = new List<LineageIndexEntry>
                {
                    new(LineageIndexKinds.Dataset, dataset, id),
                    new(LineageIndexKinds.Model, model, id),
                };
                for (var a = 0; a < 10; a++)
                {
                    entries.Add(new(LineageIndexKinds.Asset, Digest("asset", random.Next(AssetPool(runs))), id));
                }

                tasks.Add(store.SaveAsync(manifest, 1));
                tasks.Add(store.IndexAsync(entries));
            }

            await Task.WhenAll(tasks);
        }
    }

    private static LineageEvent[] Chain(string run, int count)
    {
        var events = new LineageEvent[count];
        LineageEvent? previous = null;
        var at = DateTimeOffset.UtcNow;
        for (var i = 0; i < count; i++)
        {
            previous = events[i] = LineageEvent.Next(previous, at, "shard-completed", new JsonObject
            {
                ["message"] = $"round 1 shard {i} merged from agent-{i % 64}: loss 0.01234, 400 samples",
                ["round"] = 1,
                ["shard"] = i,
                ["agent"] = $"agent-{i % 64}",
                ["lease"] = $"{run}/r1/s{i}/e1",
                ["epoch"] = 1,
                ["result"] = Digest("result", i),
                ["samples"] = 400,
                ["loss"] = 0.01234,
            });
        }

        return events;
    }

    private static string Digest(string kind, int i) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{kind}-{i}")));

    /// <summary>Operations per second: <paramref name="writers"/> sequences of <paramref name="each"/> operations, the sequences concurrent.</summary>
    private static async Task<double> ThroughputAsync(int writers, int each, Func<int, int, Task> operation)
    {
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(async w =>
        {
            for (var i = 0; i < each; i++)
            {
                await operation(w, i);
            }
        }));
        return writers * each / sw.Elapsed.TotalSeconds;
    }

    private static async Task<(double P50, double P99)> LatenciesAsync(int count, Func<Task> operation)
    {
        for (var i = 0; i < 50; i++)
        {
            await operation();
        }

        var samples = new double[count];
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await operation();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        Array.Sort(samples);
        return (samples[count / 2], samples[(int)(count * 0.99)]);
    }
}
