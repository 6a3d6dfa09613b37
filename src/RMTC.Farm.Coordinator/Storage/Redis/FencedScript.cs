namespace RMTC.Farm.Coordinator.Storage.Redis;

/// <summary>
/// Fencing for every write of <see cref="RedisRunStore"/> when coordinators share the store: a script wrapped here
/// first compares the caller's token with <see cref="RedisKeys.Fence"/> (the newest token any coordinator took) and
/// refuses with an <c>RMTCFENCED</c> error when a newer one exists, all in one atomic step with the write itself. A
/// leader that was paused past its lease therefore cannot write once its successor has taken the lease.
/// </summary>
/// <remarks>
/// The fence key and a run's keys lie in different Redis Cluster slots, so fenced writes need a Redis that is not a
/// Cluster (standalone, or a primary with replicas behind Sentinel); leadership refuses to start on a Cluster.
/// </remarks>
internal static class FencedScript
{
    /// <summary>The error prefix of a refused write.</summary>
    public const string Refusal = "RMTCFENCED";

    /// <summary>
    /// <paramref name="lua"/> behind the fence check. The wrapped script takes KEYS[1] = the fence key and ARGV[1] = the
    /// caller's token, then the original script's keys and arguments, which it sees as its own KEYS and ARGV.
    /// </summary>
    public static string Wrap(string lua) => $$"""
        local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
        local mine = tonumber(ARGV[1])
        if fence > mine then
          return redis.error_reply('{{Refusal}} ' .. string.format('%d', fence) .. ' ' .. string.format('%d', mine))
        end
        local keys, argv = {}, {}
        for i = 2, #KEYS do keys[i - 1] = KEYS[i] end
        for i = 2, #ARGV do argv[i - 1] = ARGV[i] end
        local function body(KEYS, ARGV)
        {{lua}}
        end
        return body(keys, argv)
        """;

    /// <summary>SADD of every argument to KEYS[1] (a loop, not one call: no limit on how many).</summary>
    public const string SetAdd = """
        local n = 0
        for i = 1, #ARGV do n = n + redis.call('SADD', KEYS[1], ARGV[i]) end
        return n
        """;

    /// <summary>SREM of every argument from KEYS[1].</summary>
    public const string SetRemove = """
        local n = 0
        for i = 1, #ARGV do n = n + redis.call('SREM', KEYS[1], ARGV[i]) end
        return n
        """;

    /// <summary>DEL of KEYS[1].</summary>
    public const string Delete = "return redis.call('DEL', KEYS[1])";

    /// <summary>RPUSH of ARGV[1] to KEYS[1].</summary>
    public const string ListPush = "return redis.call('RPUSH', KEYS[1], ARGV[1])";
}
