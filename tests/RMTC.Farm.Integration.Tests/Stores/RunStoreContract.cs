using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Integration.Tests.Stores;

/// <summary>
/// What every <see cref="IRunStore"/> promises. Each concrete store runs all of it; ids carry a per-test prefix so
/// tests sharing one backend (a Redis server) never see each other's runs.
/// </summary>
public abstract partial class RunStoreContract : IAsyncLifetime
{
    private readonly string _prefix = "t" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>The store under test, fresh for each test.</summary>
    protected IRunStore Store { get; private set; } = null!;

    /// <summary>A store on the same backend as <see cref="Store"/>, as if the coordinator had restarted.</summary>
    protected abstract Task<IRunStore> OpenAsync();

    public virtual async Task InitializeAsync() => Store = await OpenAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    protected string Id(string name) => $"{_prefix}-{name}";

    protected static string Digest(string seed) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(seed)));

    protected static RunManifest Manifest(string runId, string name = "contract") => new()
    {
        RunId = runId,
        Name = name,
        State = RunStates.Running,
        SubmittedBy = "tester",
        SubmittedAt = DateTimeOffset.Parse("2026-01-02T03:04:05.1234567Z", System.Globalization.CultureInfo.InvariantCulture),
        Recipe = "classifier",
        Dataset = new DatasetRecord { Name = "toy", Version = "1", Digest = Digest("dataset"), Samples = 32 },
        Seeds = new SeedRecord { Run = 7, Init = long.MaxValue, ShardPlan = -3 },
        InitialWeightsDigest = Digest("init"),
        Rounds =
        [
            new RoundRecord
            {
                Round = 1,
                InputDigest = Digest("init"),
                Shards = [new ShardRecord { Shard = 0, Samples = 16, Seed = 11, ResultDigest = Digest("r0") }],
                Attempts = [new AttemptRecord { Shard = 0, Attempt = 1, AgentId = "a1", LeaseId = "l1", LeaseEpoch = 3, FinalLoss = 0.25 }],
            },
        ],
    };

    /// <summary>A valid chain of <paramref name="count"/> events, each with distinct data.</summary>
    protected static List<LineageEvent> Chain(int count)
    {
        var events = new List<LineageEvent>();
        var at = DateTimeOffset.Parse("2026-01-02T03:04:05Z", System.Globalization.CultureInfo.InvariantCulture);
        for (var i = 0; i < count; i++)
        {
            var data = new JsonObject { ["shard"] = i, ["agent"] = $"agent-{i % 3}", ["digest"] = Digest($"e{i}"), ["nested"] = new JsonObject { ["z"] = 1, ["a"] = new JsonArray(1, "two", null) } };
            events.Add(LineageEvent.Next(events.LastOrDefault(), at.AddMilliseconds(i * 1234.5678), i == 0 ? "submitted" : "shard-completed", data));
        }

        return events;
    }

    [Fact]
    public async Task Save_get_and_list_round_trip()
    {
        var a = Manifest(Id("a"));
        var b = Manifest(Id("b"), "other");
        await Store.SaveAsync(b, 1);
        await Store.SaveAsync(a, 1);

        Assert.Equal(a.ToJson(), (await Store.GetAsync(a.RunId))?.ToJson());
        var listed = (await Store.ListAsync()).Where(m => m.RunId.StartsWith(Id(""), StringComparison.Ordinal)).ToList();
        Assert.Equal([a.RunId, b.RunId], listed.Select(m => m.RunId));
        Assert.Equal(b.ToJson(), listed[1].ToJson());
    }

    [Fact]
    public async Task A_lower_or_equal_version_never_overwrites()
    {
        var id = Id("versions");
        await Store.SaveAsync(Manifest(id, "v5"), 5);
        await Store.SaveAsync(Manifest(id, "v5-again"), 5);
        await Store.SaveAsync(Manifest(id, "v3"), 3);
        Assert.Equal("v5", (await Store.GetAsync(id))?.Name);

        await Store.SaveAsync(Manifest(id, "v6"), 6);
        Assert.Equal("v6", (await Store.GetAsync(id))?.Name);
    }

    [Fact]
    public async Task Versions_one_tick_apart_are_ordered_at_clock_scale()
    {
        // The coordinator numbers versions with UtcTicks (~6e17, beyond a double's 2^53): one tick must still count.
        var id = Id("ticks");
        var now = DateTimeOffset.UtcNow.UtcTicks;
        await Store.SaveAsync(Manifest(id, "first"), now);
        await Store.SaveAsync(Manifest(id, "second"), now + 1);
        await Store.SaveAsync(Manifest(id, "stale"), now);
        Assert.Equal("second", (await Store.GetAsync(id))?.Name);
        await Store.SaveAsync(Manifest(id, "max"), long.MaxValue);
        Assert.Equal("max", (await Store.GetAsync(id))?.Name);
    }

    [Fact]
    public async Task Negative_versions_compare_as_numbers()
    {
        var id = Id("negative");
        await Store.SaveAsync(Manifest(id, "-10"), -10);
        await Store.SaveAsync(Manifest(id, "-9"), -9);
        await Store.SaveAsync(Manifest(id, "-100"), -100);
        Assert.Equal("-9", (await Store.GetAsync(id))?.Name);
        await Store.SaveAsync(Manifest(id, "0"), 0);
        Assert.Equal("0", (await Store.GetAsync(id))?.Name);
    }

    [Fact]
    public async Task Concurrent_saves_leave_the_highest_version()
    {
        var id = Id("race");
        var versions = Enumerable.Range(1, 40).Select(v => (long)v).OrderBy(_ => Random.Shared.Next()).ToList();
        await Task.WhenAll(versions.Select(v => Task.Run(() => Store.SaveAsync(Manifest(id, $"v{v}"), v))));
        Assert.Equal("v40", (await Store.GetAsync(id))?.Name);
    }

    [Fact]
    public async Task The_version_check_survives_a_restart()
    {
        var id = Id("restart");
        await Store.SaveAsync(Manifest(id, "v10"), 10);

        var reopened = await OpenAsync();
        await reopened.SaveAsync(Manifest(id, "v9"), 9);
        Assert.Equal("v10", (await reopened.GetAsync(id))?.Name);
        await reopened.SaveAsync(Manifest(id, "v11"), 11);
        Assert.Equal("v11", (await Store.GetAsync(id))?.Name);
    }

    [Fact]
    public async Task A_retried_batch_is_not_written_twice_and_a_gap_is_refused()
    {
        var id = Id("retry");
        var chain = Chain(6);
        await Store.AppendEventsAsync(id, chain[..3]);

        // The reply to this batch was lost, so it is sent again (at-least-once delivery): the log must not grow twice.
        await Store.AppendEventsAsync(id, chain[3..5]);
        await Store.AppendEventsAsync(id, chain[3..5]);
        await Store.AppendEventsAsync(id, chain[2..6]);
        var events = await Store.ReadEventsAsync(id);
        Assert.Equal(chain.Select(e => e.Hash), events.Select(e => e.Hash));
        Assert.Empty(ChainVerifier.Verify(events));

        var later = Chain(9)[7..];
        await Assert.ThrowsAsync<InvalidDataException>(() => Store.AppendEventsAsync(id, later));
        Assert.Equal(6, (await Store.ReadEventsAsync(id)).Count);
    }

    [Fact]
    public async Task Events_append_in_order_and_read_back_equal()
    {
        var id = Id("events");
        var chain = Chain(7);
        await Store.AppendEventsAsync(id, chain[..3]);
        await Store.AppendEventsAsync(id, []);
        await Store.AppendEventsAsync(id, chain[3..4]);
        await Store.AppendEventsAsync(id, chain[4..]);

        var read = await Store.ReadEventsAsync(id);
        Assert.Equal(chain.Select(e => e.ToJson()), read.Select(e => e.ToJson()));
        Assert.Equal(chain.Select(e => e.Hash), read.Select(e => e.Hash));
        Assert.Equal(chain.Select(e => LineageEvent.Canonical(e.Data)), read.Select(e => LineageEvent.Canonical(e.Data)));
        Assert.Empty(ChainVerifier.Verify(read));
    }

    [Fact]
    public async Task Event_logs_of_runs_are_separate()
    {
        var chain = Chain(4);
        await Task.WhenAll(
            Store.AppendEventsAsync(Id("one"), chain[..2]),
            Store.AppendEventsAsync(Id("two"), chain[..1]));
        await Store.AppendEventsAsync(Id("one"), chain[2..]);

        Assert.Equal(4, (await Store.ReadEventsAsync(Id("one"))).Count);
        Assert.Single(await Store.ReadEventsAsync(Id("two")));
        Assert.Empty(ChainVerifier.Verify(await Store.ReadEventsAsync(Id("one"))));
    }

    [Fact]
    public async Task A_run_with_events_but_no_manifest_is_not_listed()
    {
        await Store.AppendEventsAsync(Id("orphan"), Chain(1));
        Assert.DoesNotContain(await Store.ListAsync(), m => m.RunId == Id("orphan"));
        Assert.Null(await Store.GetAsync(Id("orphan")));
    }

    [Fact]
    public async Task Index_is_idempotent_sorted_distinct_and_kinds_are_separate()
    {
        var digest = Digest(Id("weights"));
        var entries = new List<LineageIndexEntry>
        {
            new(LineageIndexKinds.Weights, digest, Id("c")),
            new(LineageIndexKinds.Weights, digest, Id("a")),
            new(LineageIndexKinds.Weights, digest, Id("b")),
            new(LineageIndexKinds.Weights, digest, Id("a")),
            new(LineageIndexKinds.Model, digest, Id("z")),
        };
        await Store.IndexAsync(entries);
        await Store.IndexAsync(entries);
        await Store.IndexAsync([new(LineageIndexKinds.Weights, digest, Id("b"))]);
        await Store.IndexAsync([]);

        Assert.Equal([Id("a"), Id("b"), Id("c")], await Store.LookupAsync(LineageIndexKinds.Weights, digest));
        Assert.Equal([Id("z")], await Store.LookupAsync(LineageIndexKinds.Model, digest));
        Assert.Empty(await Store.LookupAsync(LineageIndexKinds.Asset, digest));
        Assert.Empty(await Store.LookupAsync(LineageIndexKinds.Weights, Digest(Id("other"))));
    }

    [Fact]
    public async Task Clearing_the_index_empties_every_kind_and_it_can_be_rebuilt()
    {
        var d1 = Digest(Id("d1"));
        var d2 = Digest(Id("d2"));
        await Store.IndexAsync([new(LineageIndexKinds.Dataset, d1, Id("r")), new(LineageIndexKinds.Asset, d2, Id("r"))]);
        await Store.ClearIndexAsync();
        Assert.Empty(await Store.LookupAsync(LineageIndexKinds.Dataset, d1));
        Assert.Empty(await Store.LookupAsync(LineageIndexKinds.Asset, d2));
        await Store.ClearIndexAsync();

        await Store.IndexAsync([new(LineageIndexKinds.Asset, d2, Id("r"))]);
        Assert.Equal([Id("r")], await Store.LookupAsync(LineageIndexKinds.Asset, d2));
    }

    [Fact]
    public async Task Unknown_runs_are_null_and_empty()
    {
        Assert.Null(await Store.GetAsync(Id("missing")));
        Assert.Empty(await Store.ReadEventsAsync(Id("missing")));
        Assert.DoesNotContain(await Store.ListAsync(), m => m.RunId == Id("missing"));
    }

    [Fact]
    public async Task Names_that_could_escape_are_refused()
    {
        var digest = Digest("x");
        await Assert.ThrowsAsync<ArgumentException>(() => Store.LookupAsync("../runs", digest));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.LookupAsync("Weights", digest));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.LookupAsync(LineageIndexKinds.Weights, "../../etc/passwd"));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.LookupAsync(LineageIndexKinds.Weights, digest.ToUpperInvariant()));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.IndexAsync([new("weights/x", digest, Id("r"))]));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.IndexAsync([new(LineageIndexKinds.Weights, digest, "../r")]));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.SaveAsync(Manifest("../escape"), 1));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.SaveAsync(Manifest("a}b"), 1));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.AppendEventsAsync("..", Chain(1)));

        // Reads with such ids (user input, e.g. a run id prefix) find nothing rather than fail.
        Assert.Null(await Store.GetAsync("../escape"));
        Assert.Empty(await Store.ReadEventsAsync("a/b"));
    }

    [Fact]
    public async Task Derivations_are_kept_per_run_in_order_and_survive_a_restart()
    {
        var run = Id("derived");
        Assert.Empty(await Store.ReadDerivationsAsync(run));
        var export = new DerivationRecord { Kind = DerivationKinds.Export, RunId = run, ModelDigest = Digest("m"), Format = "onnx", VariantDigest = Digest("onnx") };
        var inference = new DerivationRecord { Kind = DerivationKinds.Inference, RunId = run, VariantDigest = Digest("onnx"), Inputs = [Digest("in")], Outputs = [Digest("out")], Previous = export.Digest() };
        await Store.AppendDerivationAsync(run, export);
        await Store.AppendDerivationAsync(run, inference);

        var reopened = await OpenAsync();
        var read = await reopened.ReadDerivationsAsync(run);
        Assert.Equal([export.Digest(), inference.Digest()], read.Select(r => r.Digest()));
        Assert.Empty(await reopened.ReadDerivationsAsync(Id("other")));
    }

    [Fact]
    public async Task Lease_epoch_reservations_only_rise_honour_the_floor_and_survive_a_restart()
    {
        var run = Id("epochs");
        Assert.Equal(new LeaseEpochBlock(0, 64), await Store.ReserveLeaseEpochsAsync(run, 0, 64));
        Assert.Equal(new LeaseEpochBlock(64, 128), await Store.ReserveLeaseEpochsAsync(run, 10, 64));
        // A floor above the stored reservation (epochs recorded before reservations existed) wins.
        Assert.Equal(new LeaseEpochBlock(500, 501), await Store.ReserveLeaseEpochsAsync(run, 500, 1));

        var reopened = await OpenAsync();
        Assert.Equal(new LeaseEpochBlock(501, 565), await reopened.ReserveLeaseEpochsAsync(run, 0, 64));
        Assert.Equal(new LeaseEpochBlock(0, 1), await reopened.ReserveLeaseEpochsAsync(Id("other"), 0, 1));

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ReserveLeaseEpochsAsync(run, -1, 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ReserveLeaseEpochsAsync(run, 0, 0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ReserveLeaseEpochsAsync(run, LeaseEpochBlock.MaxEpoch, 1));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.ReserveLeaseEpochsAsync("../escape", 0, 1));
    }
}
