using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests.Fixtures;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// One journal batch of a big run, written the way it was (the whole manifest serialised under the scheduler's lock,
/// then stored) and the way it is (what changed taken under the lock, serialised after it, stored in parts), on the
/// file store and on Redis. The run: one round of 500 shards; each batch grants a lease (a new attempt) and ends one
/// granted 8 batches before (a failure, or on a shard's last pass its result, merged); measured over the batches that
/// take it from 1,800 to 2,000 attempts.
/// </summary>
internal static class ManifestWriteBenchmark
{
    private const int Shards = 500;
    private const int From = 1800;
    private const int To = 2000;

    public static async Task RunAsync(ResultTable table)
    {
        Console.WriteLine($"manifest writes: one round of {Shards} shards, batches from {From:N0} to {To:N0} attempts (a lease granted and one ended per batch)");
        var root = Directory.CreateTempSubdirectory("rmtc-manifest-bench-").FullName;
        using var redis = await RedisServer.StartAsync();
        try
        {
            var file = new FileRunStore(Options.Create(new CoordinatorOptions { DataDirectory = root }));
            using var mux = await redis.ConnectAsync();
            var redisStore = new RedisRunStore(mux, NullLogger<RedisRunStore>.Instance);
            foreach (var (name, store) in new (string, IRunStore)[] { ("file store", file), ("Redis", redisStore) })
            {
                var whole = await MeasureAsync(store, parts: false);
                var parts = await MeasureAsync(store, parts: true);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {name}: whole manifest {whole.Bytes:N0} bytes/batch, lock {whole.LockUs:F0} µs, serialise off the lock {whole.SerialiseUs:F0} µs, store {whole.StoreUs:F0} µs (medians)"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {name}: in parts       {parts.Bytes:N0} bytes/batch, lock {parts.LockUs:F0} µs, serialise off the lock {parts.SerialiseUs:F0} µs, store {parts.StoreUs:F0} µs (medians)"));
                table.Add($"manifest write per batch at ~2,000 attempts, bytes ({name})", parts.Bytes, "B", whole.Bytes, "the whole manifest", "report", higherIsBetter: false);
                table.Add($"  time under the scheduler's lock ({name})", parts.LockUs, "µs", whole.LockUs, "whole manifest serialised", "report", higherIsBetter: false);
                table.Add($"  whole write: lock + serialise + store ({name})", parts.LockUs + parts.SerialiseUs + parts.StoreUs, "µs", whole.LockUs + whole.SerialiseUs + whole.StoreUs, "whole manifest", "report", higherIsBetter: false);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<(double Bytes, double LockUs, double SerialiseUs, double StoreUs)> MeasureAsync(IRunStore store, bool parts)
    {
        var id = $"bench-{(parts ? "parts" : "whole")}-{Guid.NewGuid():N}"[..30];
        var manifest = NewManifest(id);
        var tracker = new ManifestTracker();
        var bytes = new List<double>();
        var locks = new List<double>();
        var serialise = new List<double>();
        var stores = new List<double>();
        var granted = new List<AttemptRecord>();
        for (var batch = 0; batch < To; batch++)
        {
            Change(manifest, granted, batch);
            var version = batch + 1L;
            var clock = Stopwatch.StartNew();
            if (parts)
            {
                var capture = tracker.Capture(manifest, version, whole: false, expect: false);
                var locked = clock.Elapsed;
                var written = capture.ToParts();
                var serialised = clock.Elapsed;
                var result = await store.SavePartsAsync(id, written);
                tracker.Landed(capture, result);
                Record(batch, written.Characters, locked, serialised - locked, clock.Elapsed - serialised);
            }
            else
            {
                var json = manifest.ToJson();
                var locked = clock.Elapsed;
                await store.SaveAsync(id, json, version);
                Record(batch, json.Length, locked, TimeSpan.Zero, clock.Elapsed - locked);
            }
        }

        var stored = await store.GetAsync(id);
        if (stored?.ToJson() != manifest.ToJson())
        {
            throw new InvalidOperationException($"the store gives back another manifest than the one written ({(parts ? "parts" : "whole")})");
        }

        return (Median(bytes), Median(locks), Median(serialise), Median(stores));

        void Record(int batch, long characters, TimeSpan locked, TimeSpan serialised, TimeSpan written)
        {
            if (batch >= From)
            {
                bytes.Add(characters);
                locks.Add(locked.TotalMicroseconds);
                serialise.Add(serialised.TotalMicroseconds);
                stores.Add(written.TotalMicroseconds);
            }
        }
    }

    /// <summary>One batch: a lease granted, and the one granted 8 batches before ended.</summary>
    private static void Change(RunManifest manifest, List<AttemptRecord> granted, int batch)
    {
        var round = manifest.Rounds[0];
        var shard = batch % Shards;
        var now = manifest.SubmittedAt.AddSeconds(batch);
        var attempt = new AttemptRecord
        {
            Shard = shard, Attempt = (batch / Shards) + 1, AgentId = $"render-node-{batch % 997:D4}", LeaseId = $"{manifest.RunId}-r1-s{shard}-e{batch + 1}",
            LeaseEpoch = batch + 1, StartedAt = now,
        };
        round.Attempts.Add(attempt);
        granted.Add(attempt);
        if (granted.Count > 8)
        {
            var ended = granted[^9];
            ended.EndedAt = now;
            ended.Samples = 24;
            ended.Device = "cuda:0 (NVIDIA RTX A6000)";
            if (ended.Attempt == To / Shards)
            {
                var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(batch)));
                ended.Outcome = AttemptOutcomes.Succeeded;
                ended.ResultDigest = digest;
                ended.FinalLoss = 0.125;
                round.Shards[ended.Shard].ResultDigest = digest;
                round.MergedResults.Add(digest);
            }
            else
            {
                ended.Outcome = AttemptOutcomes.Failed;
                ended.Error = "trainer exited with code 137: killed (out of memory?)";
            }
        }
    }

    private static RunManifest NewManifest(string id)
    {
        var manifest = new RunManifest
        {
            RunId = id, Name = "bench", State = RunStates.Running, SubmittedBy = "bench", SubmittedAt = DateTimeOffset.Parse("2026-12-08T00:00:00Z", CultureInfo.InvariantCulture),
            Recipe = "classifier", Dataset = new DatasetRecord { Name = "synthetic", Version = "1", Digest = new string('d', 64), Samples = Shards * 24 },
            InitialWeightsDigest = new string('i', 64), Tasks = [],
        };
        var round = new RoundRecord { Round = 1, InputDigest = manifest.InitialWeightsDigest, StartedAt = manifest.SubmittedAt };
        for (var i = 0; i < Shards; i++)
        {
            round.Shards.Add(new ShardRecord { Shard = i, Samples = 24, Seed = (1L << 62) + i });
        }

        manifest.Rounds.Add(round);
        return manifest;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
