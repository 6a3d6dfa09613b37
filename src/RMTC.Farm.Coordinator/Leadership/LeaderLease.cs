using RMTC.Farm.Coordinator.Storage.Redis;
using StackExchange.Redis;

namespace RMTC.Farm.Coordinator.Leadership;

/// <summary>
/// The leader lease in Redis: one key set with <c>NX PX</c> holding <c>&lt;token&gt;|&lt;address&gt;</c>, where the
/// token comes from <c>INCR</c> of the fence key in the same script, so every acquisition gets a token above every
/// earlier one (<see cref="RedisKeys.Fence"/>). Renewal and release only touch a lease that still holds this
/// coordinator's value.
/// </summary>
public sealed class LeaderLease(IConnectionMultiplexer redis)
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
    public async Task<LeaseHolder> TryAcquireAsync(string address, TimeSpan lease)
    {
        var reply = (RedisResult[])(await Db.ScriptEvaluateAsync(AcquireScript, [RedisKeys.LeaderLease, RedisKeys.Fence], [address, (long)lease.TotalMilliseconds]))!;
        var holder = LeaseHolder.Parse((string)reply[1]!);
        return (long)reply[0] > 0 ? holder with { Mine = true } : holder;
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
