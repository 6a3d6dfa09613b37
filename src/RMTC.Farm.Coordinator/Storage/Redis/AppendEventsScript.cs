namespace RMTC.Farm.Coordinator.Storage.Redis;

/// <summary>
/// The idempotent append behind <see cref="RedisRunStore.AppendEventsAsync"/>. A retried RPUSH whose first reply was
/// lost (Redis died after applying it) must not write the batch twice, so entries are placed by sequence number:
/// those already in the log are skipped, and a batch that would leave a gap is refused.
/// </summary>
internal static class AppendEventsScript
{
    /// <summary>
    /// KEYS[1]: the events list; ARGV[1]: the first entry's sequence number (1-based, = its position in an intact log);
    /// ARGV[2..]: the entries as JSON. Returns the log's length, or an error reply naming the gap.
    /// </summary>
    public const string Lua = """
        local n = redis.call('LLEN', KEYS[1])
        local first = tonumber(ARGV[1])
        if first > n + 1 then
          return redis.error_reply('RMTCGAP the log holds ' .. n .. ' entries but the next batch starts at ' .. first)
        end
        for i = 2, #ARGV do
          if first + i - 2 > n then redis.call('RPUSH', KEYS[1], ARGV[i]) end
        end
        return redis.call('LLEN', KEYS[1])
        """;
}
