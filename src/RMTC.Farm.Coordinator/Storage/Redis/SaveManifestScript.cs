namespace RMTC.Farm.Coordinator.Storage.Redis;

/// <summary>The compare-and-set behind <see cref="RedisRunStore.SaveAsync(string, string, long, CancellationToken)"/>: write only a newer version, atomically.</summary>
internal static class SaveManifestScript
{
    /// <summary>
    /// KEYS[1]: the manifest hash; ARGV[1]: the version (decimal int64); ARGV[2]: the manifest JSON. Returns 1 when
    /// written, 0 when the stored version is greater or equal (<see cref="VersionCompare"/>). The hash is emptied first:
    /// a whole document replaces the parts of a manifest written in parts.
    /// </summary>
    public const string Lua = VersionCompare.Lua + """

        local stored = redis.call('HGET', KEYS[1], 'version')
        if stored and le(ARGV[1], stored) then return 0 end
        redis.call('DEL', KEYS[1])
        redis.call('HSET', KEYS[1], 'version', ARGV[1], 'json', ARGV[2])
        return 1
        """;
}
