namespace RMTC.Farm.Coordinator.Storage.Redis;

/// <summary>
/// The compare-and-set behind <see cref="RedisRunStore.SavePartsAsync"/>: a manifest's changed parts land in its hash
/// in one atomic step, only on top of the version they were computed against.
/// </summary>
internal static class SaveManifestPartsScript
{
    /// <summary>
    /// KEYS[1]: the manifest hash. ARGV[1]: the version; ARGV[2]: the base version, or empty for a write of every part;
    /// ARGV[3]: how many keys are removed (R); ARGV[4 .. 3+R]: those keys; then field and value pairs. Returns 1 when
    /// written; 2 when the hash already holds this version (a retry whose first reply was lost); 0 when it holds a
    /// newer one; -1 when it does not hold the base in parts (another writer, or a whole document), so nothing was
    /// written and the caller writes every part. A write without base empties the hash first.
    /// </summary>
    public const string Lua = VersionCompare.Lua + """

        local stored = redis.call('HGET', KEYS[1], 'version')
        if stored == ARGV[1] then return 2 end
        if stored and le(ARGV[1], stored) then return 0 end
        if ARGV[2] == '' then
          redis.call('DEL', KEYS[1])
        elseif stored ~= ARGV[2] or redis.call('HEXISTS', KEYS[1], 'head') == 0 then
          return -1
        end
        local removed = tonumber(ARGV[3])
        for i = 4, 3 + removed do redis.call('HDEL', KEYS[1], ARGV[i]) end
        redis.call('HSET', KEYS[1], 'version', ARGV[1])
        for i = 4 + removed, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
        return 1
        """;
}
