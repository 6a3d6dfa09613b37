namespace RMTC.Farm.Coordinator.Storage.Redis;

/// <summary>The compare-and-set behind <see cref="RedisRunStore.SaveAsync(string, string, long, CancellationToken)"/>: write only a newer version, atomically.</summary>
internal static class SaveManifestScript
{
    /// <summary>
    /// KEYS[1]: the manifest hash; ARGV[1]: the version (decimal int64); ARGV[2]: the manifest JSON. Returns 1 when
    /// written, 0 when the stored version is greater or equal. Versions are compared as decimal strings, not with
    /// tonumber: Lua numbers are doubles and tick-based versions (about 6e17) exceed 2^53, so versions a few ticks
    /// apart would compare equal and the newer manifest would be dropped.
    /// </summary>
    public const string Lua = """
        local function le(a, b)
          local an, bn = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
          if an ~= bn then return an end
          if an then a, b = b:sub(2), a:sub(2) end
          if #a ~= #b then return #a < #b end
          for i = 1, #a do
            local x, y = a:byte(i), b:byte(i)
            if x ~= y then return x < y end
          end
          return true
        end
        local stored = redis.call('HGET', KEYS[1], 'version')
        if stored and le(ARGV[1], stored) then return 0 end
        redis.call('HSET', KEYS[1], 'version', ARGV[1], 'json', ARGV[2])
        return 1
        """;
}
