namespace RMTC.Farm.Coordinator.Storage.Redis;

/// <summary>The atomic raise behind <see cref="RedisRunStore.ReserveLeaseEpochsAsync"/>.</summary>
internal static class ReserveEpochsScript
{
    /// <summary>
    /// KEYS[1]: the run's epoch reservation (a decimal integer); ARGV[1]: the floor; ARGV[2]: how many. Sets the key
    /// to <c>max(stored, floor) + count</c> and returns <c>{after, through}</c>. Epochs stay far below 2^53, so Lua's
    /// doubles hold them exactly (the caller checks the bound).
    /// </summary>
    public const string Lua = """
        local after = tonumber(redis.call('GET', KEYS[1]) or '0')
        local floor = tonumber(ARGV[1])
        if floor > after then after = floor end
        local through = after + tonumber(ARGV[2])
        redis.call('SET', KEYS[1], string.format('%d', through))
        return {after, through}
        """;
}
