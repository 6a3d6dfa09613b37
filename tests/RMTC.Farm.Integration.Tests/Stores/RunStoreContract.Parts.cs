using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Integration.Tests.Stores;

/// <summary>Manifests written in parts (what the journal writes for a live run): incremental, atomic on their base, and read back whole.</summary>
public abstract partial class RunStoreContract
{
    /// <summary>Writes what the journal would for <paramref name="manifest"/> at <paramref name="version"/>, as it does: parts, or the whole document of an ended run.</summary>
    private protected static async Task<ManifestCapture> WriteAsync(IRunStore store, ManifestTracker tracker, RunManifest manifest, long version)
    {
        var capture = tracker.Capture(manifest, version, whole: false, expect: false);
        if (capture.Whole is { } json)
        {
            await store.SaveAsync(manifest.RunId, json, version);
            tracker.Landed(capture, ManifestWriteResult.Written);
            return capture;
        }

        var result = await store.SavePartsAsync(manifest.RunId, capture.ToParts());
        Assert.Equal(ManifestWriteResult.Written, result);
        tracker.Landed(capture, result);
        return capture;
    }

    protected static AttemptRecord Running(int shard, int attempt, string agent) => new()
    {
        Shard = shard, Attempt = attempt, AgentId = agent, LeaseId = $"lease-{shard}-{attempt}", LeaseEpoch = (1L << 40) + attempt,
        StartedAt = DateTimeOffset.Parse("2026-01-02T03:05:00Z", System.Globalization.CultureInfo.InvariantCulture),
    };

    private async Task AssertStoredAsync(RunManifest expected)
    {
        Assert.Equal(expected.ToJson(), (await Store.GetAsync(expected.RunId))?.ToJson());
        Assert.Equal(expected.ToJson(), (await Store.ListAsync()).Single(m => m.RunId == expected.RunId).ToJson());
    }

    [Fact]
    public async Task A_run_written_in_parts_reads_back_as_its_manifest_and_each_write_carries_only_what_changed()
    {
        var m = Manifest(Id("parts"));
        m.Tasks = [new TaskRecord { Kind = TaskKinds.Prepare, QueuedAt = m.SubmittedAt, Attempts = [Running(-1, 1, "a0")] }];
        var tracker = new ManifestTracker();

        var first = await WriteAsync(Store, tracker, m, 1);
        Assert.Null(first.Base);
        await AssertStoredAsync(m);

        // Leases granted: only the new attempts travel.
        var round = m.Rounds[0];
        round.Shards.Add(new ShardRecord { Shard = 1, Samples = 16, Seed = long.MinValue });
        round.Attempts.Add(Running(1, 1, "a2"));
        round.Attempts.Add(Running(0, 2, "a3"));
        var second = await WriteAsync(Store, tracker, m, 2);
        Assert.Equal(1, second.Base);
        Assert.Equal(["r0.a1", "r0.a2", "r0.s1"], second.ToParts().Written.Select(p => p.Key).Order(StringComparer.Ordinal));
        await AssertStoredAsync(m);

        // A result accepted: its attempt, its shard and the merged list; the preparation ended; the head changed.
        var won = round.Attempts[1];
        won.Outcome = AttemptOutcomes.Succeeded;
        won.EndedAt = won.StartedAt.AddSeconds(3);
        won.ResultDigest = Digest("r1");
        round.Shards[1].ResultDigest = Digest("r1");
        round.MergedResults.Add(Digest("r1"));
        m.Tasks[0].Attempts[0].Outcome = AttemptOutcomes.Succeeded;
        m.Tasks[0].EndedAt = won.EndedAt;
        m.Code.TorchSharpVersion = "0.107.0";
        var third = await WriteAsync(Store, tracker, m, 3);
        Assert.Equal(["head", "r0.a1", "r0.m0", "r0.s1", "t0", "t0.a0"], third.ToParts().Written.Select(p => p.Key).Order(StringComparer.Ordinal));
        await AssertStoredAsync(m);

        // Nothing changed: only the version moves.
        Assert.Empty((await WriteAsync(Store, tracker, m, 4)).ToParts().Written);
        await AssertStoredAsync(m);

        // A wrangler's retry takes a settled result out of the merge: the touched shard is written again and the list shrinks.
        won.Outcome = AttemptOutcomes.Retried;
        won.StoppedBy = "wrangler";
        round.Shards[1].ResultDigest = null;
        round.MergedResults.Remove(Digest("r1"));
        tracker.Touch(0, 1);
        var retried = (await WriteAsync(Store, tracker, m, 5)).ToParts();
        Assert.Equal(["r0.m0"], retried.Removed);
        await AssertStoredAsync(m);

        // The round closes and the next starts; a restarted store reads the same.
        round.OutputDigest = Digest("out1");
        round.EndedAt = won.EndedAt;
        m.Rounds.Add(new RoundRecord { Round = 2, InputDigest = Digest("out1"), Shards = [new ShardRecord { Shard = 0, Samples = 16, Seed = 5 }], Attempts = [Running(0, 1, "a1")] });
        await WriteAsync(Store, tracker, m, 6);
        await AssertStoredAsync(m);
        Assert.Equal(m.ToJson(), (await (await OpenAsync()).GetAsync(m.RunId))?.ToJson());

        // The run ends: sealed and written whole, and the seal verifies on what the store gives back.
        m.State = RunStates.Succeeded;
        m.FinishedAt = won.EndedAt;
        var seal = new ManifestSeal { SealedAt = won.EndedAt!.Value, ChainHead = Digest("head"), Events = 9 };
        seal.ManifestDigest = ManifestSeal.DigestOf(m);
        m.Seal = seal;
        Assert.NotNull((await WriteAsync(Store, tracker, m, 7)).Whole);
        await AssertStoredAsync(m);
        Assert.True(ManifestSeal.Matches((await Store.GetAsync(m.RunId))!, seal.ManifestDigest));
    }

    [Fact]
    public async Task Parts_land_only_on_the_version_they_build_on()
    {
        var id = Id("base");
        var one = Manifest(id, "one");
        Assert.Equal(ManifestWriteResult.Written, await Store.SavePartsAsync(id, new ManifestParts { Version = 10, Written = ManifestPartJson.Split(one) }));

        var two = Manifest(id, "two");
        var head = new[] { new KeyValuePair<string, string>(ManifestPartKeys.Head, ManifestPartJson.Head(two)) };
        Assert.Equal(ManifestWriteResult.BaseMissing, await Store.SavePartsAsync(id, new ManifestParts { Version = 12, Base = 11, Written = head }));
        Assert.Equal(ManifestWriteResult.Stale, await Store.SavePartsAsync(id, new ManifestParts { Version = 9, Written = ManifestPartJson.Split(two) }));
        Assert.Equal("one", (await Store.GetAsync(id))?.Name);
        // A retry of the write that landed (its reply was lost) changes nothing and counts as written.
        Assert.Equal(ManifestWriteResult.Written, await Store.SavePartsAsync(id, new ManifestParts { Version = 10, Written = ManifestPartJson.Split(one) }));

        Assert.Equal(ManifestWriteResult.Written, await Store.SavePartsAsync(id, new ManifestParts { Version = 11, Base = 10, Written = head }));
        Assert.Equal(two.ToJson(), (await Store.GetAsync(id))?.ToJson());

        // A whole document replaces the parts; parts on top of it need a write of every part first.
        await Store.SaveAsync(Manifest(id, "three"), 12);
        Assert.Equal("three", (await Store.GetAsync(id))?.Name);
        Assert.Equal(ManifestWriteResult.BaseMissing, await Store.SavePartsAsync(id, new ManifestParts { Version = 13, Base = 12, Written = head }));
        var four = Manifest(id, "four");
        Assert.Equal(ManifestWriteResult.Written, await Store.SavePartsAsync(id, new ManifestParts { Version = 13, Written = ManifestPartJson.Split(four) }));
        await AssertStoredAsync(four);
        Assert.Single(await Store.ListAsync(), m => m.RunId == id);
    }

    [Fact]
    public async Task A_manifest_whose_parts_are_incomplete_is_reported_as_damaged()
    {
        var id = Id("holes");
        var m = Manifest(id);
        var parts = ManifestPartJson.Split(m).Where(p => p.Key != ManifestPartKeys.Round(0)).ToList();
        await Store.SavePartsAsync(id, new ManifestParts { Version = 1, Written = parts });
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Store.GetAsync(id));
        Assert.Contains("'r0' is missing", error.Message);

        // Mended by the next whole write (and out of the way of other tests' listings on a shared server).
        await Store.SaveAsync(m, 2);
        Assert.Equal(m.ToJson(), (await Store.GetAsync(id))?.ToJson());
    }
}
