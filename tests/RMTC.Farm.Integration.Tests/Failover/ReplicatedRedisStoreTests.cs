using Microsoft.Extensions.Logging.Abstractions;
using RMTC.Farm.Coordinator.Leadership;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Coordinator.Storage.Redis;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests.Fixtures;
using StackExchange.Redis;

namespace RMTC.Farm.Integration.Tests.Failover;

/// <summary>
/// Writes that must reach a replica (<c>Coordinator:RedisMinReplicas</c>, Redis <c>WAIT</c>): with a replica each write
/// is on it when the store returns; with none, nothing counts as written and the leader lease is not taken.
/// </summary>
public sealed class ReplicatedRedisStoreTests
{
    private static readonly ReplicaWait OneReplica = new(1, TimeSpan.FromMilliseconds(200));

    [Fact]
    public async Task With_a_replica_every_write_is_on_it_when_the_store_returns()
    {
        await using var redis = await SentinelRedis.StartAsync(replicas: 1, sentinels: 0);
        using var mux = await ConnectionMultiplexer.ConnectAsync(redis.FirstPrimary);
        using var replica = await ConnectionMultiplexer.ConnectAsync(redis.ReplicaEndpoints.Single());
        var store = new RedisRunStore(mux, NullLogger<RedisRunStore>.Instance, replicas: OneReplica);
        var onReplica = new RedisRunStore(replica, NullLogger<RedisRunStore>.Instance);

        var id = "replicated-" + Guid.NewGuid().ToString("N")[..8];
        var chain = Chain(id, 5);
        await store.AppendEventsAsync(id, chain[..3]);
        Assert.Equal(3, (await onReplica.ReadEventsAsync(id)).Count);
        await store.SaveAsync(new RunManifest { RunId = id, Name = "replicated" }, 7);
        Assert.Equal("replicated", (await onReplica.GetAsync(id))?.Name);
        Assert.Contains(id, (await onReplica.ListAsync()).Select(m => m.RunId));
        await store.IndexAsync([new(LineageIndexKinds.Model, new string('a', 64), id)]);
        Assert.Equal([id], await onReplica.LookupAsync(LineageIndexKinds.Model, new string('a', 64)));
        var block = await store.ReserveLeaseEpochsAsync(id, 0, 8);
        Assert.Equal(block.Through.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)await replica.GetDatabase().StringGetAsync($"rmtc:{{run:{id}}}:epochs"));

        // A gap seen behind Sentinel is what a stale server shows (an old primary back before Sentinel demoted it): retried, not dropped.
        var gap = await Assert.ThrowsAnyAsync<RedisException>(() => store.AppendEventsAsync(id, chain[4..]));
        Assert.Contains("missing entries", gap.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_no_replica_a_write_does_not_count_and_the_leader_lease_is_not_taken()
    {
        using var redis = await RedisServer.StartAsync();
        using var mux = await redis.ConnectAsync();
        var store = new RedisRunStore(mux, NullLogger<RedisRunStore>.Instance, replicas: OneReplica);
        var id = "unreplicated-" + Guid.NewGuid().ToString("N")[..8];

        var refused = await Assert.ThrowsAsync<StoreNotReplicatedException>(() => store.SaveAsync(new RunManifest { RunId = id, Name = "alone" }, 1));
        Assert.Contains("reached 0 of the 1 Redis replica(s)", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Coordinator:RedisMinReplicas", refused.Message, StringComparison.Ordinal);
        // A RedisException: the journal retries it as it retries an outage.
        Assert.IsAssignableFrom<RedisException>(refused);
        await Assert.ThrowsAsync<StoreNotReplicatedException>(() => store.AppendEventsAsync(id, Chain(id, 1)));
        await Assert.ThrowsAsync<StoreNotReplicatedException>(() => store.ReserveLeaseEpochsAsync(id, 0, 4));

        // The lease is given back: its token never reached a replica, so a failover could hand the same token out again.
        var lease = new LeaderLease(mux, OneReplica);
        var notTaken = await Assert.ThrowsAsync<StoreNotReplicatedException>(() => lease.TryAcquireAsync("http://127.0.0.1:1", TimeSpan.FromSeconds(3)));
        Assert.Contains("the leader lease", notTaken.Message, StringComparison.Ordinal);
        Assert.False(await mux.GetDatabase().KeyExistsAsync("rmtc:leader"));

        // Without replicas required (a standalone Redis) the same writes succeed.
        await new RedisRunStore(mux, NullLogger<RedisRunStore>.Instance).SaveAsync(new RunManifest { RunId = id, Name = "alone" }, 1);
        Assert.True((await new LeaderLease(mux).TryAcquireAsync("http://127.0.0.1:1", TimeSpan.FromSeconds(3))).Mine);
    }

    private static List<LineageEvent> Chain(string runId, int count)
    {
        var events = new List<LineageEvent>();
        for (var i = 0; i < count; i++)
        {
            events.Add(LineageEvent.Next(events.LastOrDefault(), DateTimeOffset.UnixEpoch.AddSeconds(i), i == 0 ? "submitted" : "shard-completed",
                new System.Text.Json.Nodes.JsonObject { ["run"] = runId, ["i"] = i }));
        }

        return events;
    }
}
