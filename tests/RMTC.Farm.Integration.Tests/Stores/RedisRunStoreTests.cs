using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests.Fixtures;
using StackExchange.Redis;

namespace RMTC.Farm.Integration.Tests.Stores;

/// <summary>The Redis store against the contract, plus Cluster-readiness, durability and tamper evidence.</summary>
public sealed class RedisRunStoreTests(RedisServer redis) : RunStoreContract, IClassFixture<RedisServer>
{
    private readonly List<IConnectionMultiplexer> _connections = [];

    protected override async Task<IRunStore> OpenAsync()
    {
        var connection = await redis.ConnectAsync();
        _connections.Add(connection);
        return new RedisRunStore(connection, NullLogger<RedisRunStore>.Instance);
    }

    public override async Task DisposeAsync()
    {
        foreach (var c in _connections)
        {
            await c.DisposeAsync();
        }
    }

    private async Task<IConnectionMultiplexer> ConnectAsync(Action<ConfigurationOptions>? configure = null)
    {
        var connection = await redis.ConnectAsync(configure);
        _connections.Add(connection);
        return connection;
    }

    [Fact]
    public async Task Every_key_of_a_run_shares_its_hash_tag()
    {
        var id = Id("slot");
        await Store.SaveAsync(Manifest(id), 1);
        await Store.AppendEventsAsync(id, Chain(2));

        var mux = await ConnectAsync();
        var keys = mux.GetServer(redis.Endpoint).Keys(pattern: $"*{id}*").Select(k => (string)k!).ToList();
        Assert.Equal([$"rmtc:{{run:{id}}}:events", $"rmtc:{{run:{id}}}:manifest"], keys.Order(StringComparer.Ordinal));
        Assert.All(keys, k => Assert.Equal($"run:{id}", k[(k.IndexOf('{') + 1)..k.IndexOf('}')]));
        Assert.Single(keys.Select(k => mux.HashSlot(k)).Distinct());
    }

    [Fact]
    public async Task A_manifest_stored_whole_by_an_older_coordinator_loads_and_its_first_write_in_parts_replaces_it()
    {
        var id = Id("old");
        var manifest = Manifest(id);
        var key = $"rmtc:{{run:{id}}}:manifest";
        var mux = await ConnectAsync();
        // What a coordinator before parts (and before 64-bit integers as strings) left: the hash's version and json.
        var old = manifest.ToJson().Replace($"\"{long.MaxValue}\"", $"{long.MaxValue}", StringComparison.Ordinal);
        Assert.NotEqual(manifest.ToJson(), old);
        await mux.GetDatabase().HashSetAsync(key, [new("version", "5"), new("json", old)]);
        await mux.GetDatabase().SetAddAsync("rmtc:runs", id);
        Assert.Equal(manifest.ToJson(), (await Store.GetAsync(id))?.ToJson());
        Assert.Equal(manifest.ToJson(), (await Store.ListAsync()).Single(m => m.RunId == id).ToJson());

        manifest.Rounds[0].Attempts.Add(Running(0, 2, "a2"));
        await WriteAsync(Store, new Coordinator.Runs.ManifestTracker(), manifest, 6);
        Assert.Equal(manifest.ToJson(), (await Store.GetAsync(id))?.ToJson());
        Assert.False(await mux.GetDatabase().HashExistsAsync(key, "json"));
        Assert.True(await mux.GetDatabase().HashExistsAsync(key, "r0.a1"));
    }

    [Fact]
    public async Task Data_survives_a_restart_and_a_kill()
    {
        var id = Id("durable");
        var digest = Digest(id);
        var chain = Chain(5);
        await Store.SaveAsync(Manifest(id, "before"), 2);
        await Store.AppendEventsAsync(id, chain[..3]);
        await Store.IndexAsync([new(LineageIndexKinds.Model, digest, id)]);

        await redis.RestartAsync();
        var afterRestart = await OpenAsync();
        Assert.Equal("before", (await afterRestart.GetAsync(id))?.Name);
        Assert.Equal(3, (await afterRestart.ReadEventsAsync(id)).Count);
        Assert.Equal([id], await afterRestart.LookupAsync(LineageIndexKinds.Model, digest));

        // SIGKILL: with appendfsync always, every acknowledged write is in the append-only file (everysec may lose ~1 s under load).
        await afterRestart.AppendEventsAsync(id, chain[3..]);
        await afterRestart.SaveAsync(Manifest(id, "after"), 3);
        await redis.KillAsync();
        await redis.RestartAsync();
        var afterKill = await OpenAsync();
        Assert.Equal("after", (await afterKill.GetAsync(id))?.Name);
        var events = await afterKill.ReadEventsAsync(id);
        Assert.Equal(chain.Select(e => e.Hash), events.Select(e => e.Hash));
        Assert.Empty(ChainVerifier.Verify(events));
    }

    [Fact]
    public async Task Connection_errors_reach_the_caller_and_a_retry_succeeds_after_redis_returns()
    {
        var mux = await ConnectAsync(o =>
        {
            o.AsyncTimeout = 1000;
            o.SyncTimeout = 1000;
        });
        var store = new RedisRunStore(mux, NullLogger<RedisRunStore>.Instance);
        var id = Id("outage");
        await redis.KillAsync();
        try
        {
            var error = await Record.ExceptionAsync(() => store.SaveAsync(Manifest(id), 1));
            Assert.True(error is RedisConnectionException or RedisTimeoutException, $"unexpected {error}");
        }
        finally
        {
            await redis.RestartAsync();
        }

        // What the coordinator's journal does: the same write again, until it lands.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                await store.SaveAsync(Manifest(id), 1);
                break;
            }
            catch (Exception e) when ((e is RedisConnectionException or RedisTimeoutException) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }

        Assert.Equal(id, (await store.GetAsync(id))?.RunId);
    }

    [Fact]
    public async Task Editing_one_event_in_redis_is_detected_by_the_chain()
    {
        var id = Id("tamper");
        await Store.AppendEventsAsync(id, Chain(4));
        Assert.Empty(ChainVerifier.Verify(await Store.ReadEventsAsync(id)));

        // Someone with Redis access rewrites who ran shard 1, keeping the stored hash.
        var db = (await ConnectAsync()).GetDatabase();
        var key = $"rmtc:{{run:{id}}}:events";
        var original = LineageEvent.FromJson((string)(await db.ListGetByIndexAsync(key, 1))!);
        var data = (JsonObject)original.Data.DeepClone();
        data["agent"] = "mallory";
        await db.ListSetByIndexAsync(key, 1, (original with { Data = data }).ToJson());

        var problems = ChainVerifier.Verify(await Store.ReadEventsAsync(id));
        Assert.Contains(problems, p => p.StartsWith("entry 2 ", StringComparison.Ordinal) && p.Contains("does not match its hash", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_damaged_element_is_an_error_naming_the_key()
    {
        var id = Id("garbage");
        await Store.AppendEventsAsync(id, Chain(2));
        var db = (await ConnectAsync()).GetDatabase();
        await db.ListSetByIndexAsync($"rmtc:{{run:{id}}}:events", 1, "{not json");

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => Store.ReadEventsAsync(id));
        Assert.Contains($"rmtc:{{run:{id}}}:events", e.Message);
    }

    [Fact]
    public async Task Clearing_the_index_deletes_the_keys_and_their_registry()
    {
        var digest = Digest(Id("registry"));
        await Store.IndexAsync([new(LineageIndexKinds.Weights, digest, Id("r"))]);
        var db = (await ConnectAsync()).GetDatabase();
        Assert.True(await db.SetContainsAsync("rmtc:idx:keys", $"rmtc:idx:weights:{digest}"));

        await Store.ClearIndexAsync();
        Assert.False(await db.KeyExistsAsync($"rmtc:idx:weights:{digest}"));
        Assert.False(await db.KeyExistsAsync("rmtc:idx:keys"));
    }
}
