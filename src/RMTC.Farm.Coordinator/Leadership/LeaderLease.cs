using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Coordinator.Storage.Redis;
using StackExchange.Redis;

namespace RMTC.Farm.Coordinator.Leadership;

/// <summary>
/// The leader lease in Redis: one key set with <c>NX PX</c> holding <c>&lt;token&gt;|&lt;address&gt;</c>, where the
/// token comes from <c>INCR</c> of the fence key in the same script, so every acquisition gets a token above every
/// earlier one (<see cref="RedisKeys.Fence"/>). Renewal and release only touch a lease that still holds this
/// coordinator's value. With replicas required (Redis behind Sentinel) a lease counts as taken only once its token
/// reached them: a failover could otherwise hand the same token to the next leader.
/// </summary>
/// <param name="redis">The shared connection.</param>
/// <param name="replicas">Replicas a taken lease must reach (<see cref="ReplicaWait"/>); null: none.</param>
public sealed class LeaderLease(IConnectionMultiplexer redis, ReplicaWait? replicas = null)
{
    private const string AcquireScript = """
        local held = redis.call('GET', KEYS[1])
        if held then return {0, held} end
        local token = redis.call('INCR', KEYS[2])
        local value = string.format('%d', token) .. '|' .. ARGV[1]
        redis.call('SET', KEYS[1], value, 'NX', 'PX', tonumber(ARGV[2]))
        return {token, value}
        """;

    private const string RenewScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
          return 1
        end
        return 0
        """;

    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    private IDatabase Db => redis.GetDatabase();

    /// <summary>Takes the lease for <paramref name="address"/> when nobody holds it: the held lease (yours, with its token) or who holds it.</summary>
    /// <remarks>
    /// A lease taken but not yet on enough replicas is given back and <see cref="StoreNotReplicatedException"/> thrown:
    /// the next try takes it again with a new token.
    /// </remarks>
    public async Task<LeaseHolder> TryAcquireAsync(string address, TimeSpan lease)
    {
        var db = Db;
        var acquire = db.ScriptEvaluateAsync(AcquireScript, [RedisKeys.LeaderLease, RedisKeys.Fence], [address, (long)lease.TotalMilliseconds]);
        // Queued right behind the script, on its connection (see ReplicaWait); read only when the lease was taken.
        var wait = replicas is { MinReplicas: > 0 } ? replicas.Send(db) : null;
        _ = wait?.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        var reply = (RedisResult[])(await acquire)!;
        var holder = LeaseHolder.Parse((string)reply[1]!);
        if ((long)reply[0] <= 0)
        {
            return holder;
        }

        if (wait is not null)
        {
            var reached = await wait;
            try
            {
                replicas!.Require(reached, $"the leader lease (fencing token {holder.Token})");
            }
            catch (StoreNotReplicatedException)
            {
                await ReleaseAsync(holder);
                throw;
            }
        }

        return holder with { Mine = true };
    }

    /// <summary>Extends the lease if it still holds <paramref name="held"/>; false when it expired or another took it.</summary>
    public async Task<bool> RenewAsync(LeaseHolder held, TimeSpan lease) =>
        (long)await Db.ScriptEvaluateAsync(RenewScript, [RedisKeys.LeaderLease], [held.Value, (long)lease.TotalMilliseconds]) == 1;

    /// <summary>Gives the lease up (a graceful stop), so a standby need not wait for it to expire.</summary>
    public async Task ReleaseAsync(LeaseHolder held) =>
        await Db.ScriptEvaluateAsync(ReleaseScript, [RedisKeys.LeaderLease], [held.Value]);

    /// <summary>Whether the store is a Redis Cluster, where fenced writes (fence key and run keys in one script) cannot work.</summary>
    public bool IsCluster() => redis.GetServers().Any(s => s.IsConnected && s.ServerType == ServerType.Cluster);
}

/// <summary>Who holds the leader lease: its fencing token and advertised address; <see cref="Mine"/> when this coordinator just took it.</summary>
public sealed record LeaseHolder(long Token, string Address, string Value, bool Mine = false)
{
    /// <summary>Reads a lease value <c>&lt;token&gt;|&lt;address&gt;</c>.</summary>
    public static LeaseHolder Parse(string value)
    {
        var bar = value.IndexOf('|', StringComparison.Ordinal);
        return bar > 0 && long.TryParse(value.AsSpan(0, bar), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var token)
            ? new LeaseHolder(token, value[(bar + 1)..], value)
            : throw new InvalidDataException($"the Redis key {RedisKeys.LeaderLease} holds '{value}', not '<token>|<address>': something else writes it; delete it and the coordinators elect a leader again");
    }
}
