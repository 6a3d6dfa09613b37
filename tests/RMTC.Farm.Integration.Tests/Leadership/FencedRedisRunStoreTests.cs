using Microsoft.Extensions.Logging.Abstractions;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Integration.Tests.Stores;
using StackExchange.Redis;

namespace RMTC.Farm.Integration.Tests.Leadership;

/// <summary>
/// The Redis store with fenced writes (leadership on): the whole store contract holds through the fence, and once
/// another coordinator takes the lease every kind of write is refused and nothing it held changes.
/// </summary>
public sealed class FencedRedisRunStoreTests(RedisServer redis) : RunStoreContract, IClassFixture<RedisServer>
{
    private readonly List<IConnectionMultiplexer> _connections = [];
    private IConnectionMultiplexer _mux = null!;
    private TestFence _fence = null!;

    public override async Task InitializeAsync()
    {
        _mux = await ConnectAsync();
        // This coordinator's token, taken as an acquisition takes it: the newest one.
        var token = (long)await _mux.GetDatabase().StringIncrementAsync("rmtc:leader:fence");
        _fence = new TestFence(token);
        await base.InitializeAsync();
    }

    protected override async Task<IRunStore> OpenAsync() => new RedisRunStore(await ConnectAsync(), NullLogger<RedisRunStore>.Instance, _fence);

    public override async Task DisposeAsync()
    {
        foreach (var c in _connections)
        {
            await c.DisposeAsync();
        }
    }

    private async Task<IConnectionMultiplexer> ConnectAsync()
    {
        var connection = await redis.ConnectAsync();
        _connections.Add(connection);
        return connection;
    }

    [Fact]
    public async Task Once_a_newer_token_is_taken_every_write_is_refused_and_nothing_changes()
    {
        var id = Id("deposed");
        var digest = Digest(id);
        var chain = Chain(4);
        await Store.SaveAsync(Manifest(id, "mine"), 10);
        await Store.AppendEventsAsync(id, chain[..2]);
        await Store.IndexAsync([new(LineageIndexKinds.Model, digest, id)]);
        var epochs = await Store.ReserveLeaseEpochsAsync(id, 0, 5);

        // A standby takes over: its acquisition raises the fence above this coordinator's token.
        var newer = (long)await _mux.GetDatabase().StringIncrementAsync("rmtc:leader:fence");

        await Assert.ThrowsAsync<StoreFencedException>(() => Store.SaveAsync(Manifest(id, "stale"), 11));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.SaveAsync(Manifest(Id("new-run"), "stale"), 11));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.SavePartsAsync(id, new ManifestParts { Version = 11, Written = ManifestPartJson.Split(Manifest(id, "stale")) }));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.AppendEventsAsync(id, chain[2..]));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.IndexAsync([new(LineageIndexKinds.Weights, Digest("other"), id)]));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.ClearIndexAsync());
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.AppendDerivationAsync(id, new DerivationRecord { Kind = "onnx", RunId = id, At = DateTimeOffset.UnixEpoch }));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.ReserveLeaseEpochsAsync(id, 0, 5));

        Assert.Equal("mine", (await Store.GetAsync(id))!.Name);
        Assert.DoesNotContain(await Store.ListAsync(), m => m.RunId == Id("new-run"));
        Assert.Equal(2, (await Store.ReadEventsAsync(id)).Count);
        Assert.Equal([id], await Store.LookupAsync(LineageIndexKinds.Model, digest));
        Assert.Empty(await Store.LookupAsync(LineageIndexKinds.Weights, Digest("other")));
        Assert.Empty(await Store.ReadDerivationsAsync(id));
        Assert.Equal(epochs.Through.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)await _mux.GetDatabase().StringGetAsync($"rmtc:{{run:{id}}}:epochs"));
        Assert.All(_fence.Refusals, r => Assert.True(r.Newer >= newer, $"refusal names token {r.Newer}, the newer one is {newer}"));
        Assert.True(_fence.Refusals.Count >= 7, $"each refused write tells the fence; got {_fence.Refusals.Count}");
    }

    [Fact]
    public async Task A_coordinator_that_does_not_lead_writes_nothing_and_asks_nothing()
    {
        var id = Id("standby");
        _fence.Token = 0;
        var error = await Assert.ThrowsAsync<StoreFencedException>(() => Store.SaveAsync(Manifest(id), 1));
        Assert.Contains("does not hold the leader lease", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.AppendEventsAsync(id, Chain(1)));
        Assert.Empty(_fence.Refusals);
        Assert.False(await _mux.GetDatabase().KeyExistsAsync($"rmtc:{{run:{id}}}:manifest"));
        Assert.False(await _mux.GetDatabase().SetContainsAsync("rmtc:runs", id));
    }
}
