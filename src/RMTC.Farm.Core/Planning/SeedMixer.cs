namespace RMTC.Farm.Core.Planning;

/// <summary>Derives independent, reproducible seeds from a run's seed, stable across platforms.</summary>
public static class SeedMixer
{
    /// <summary>A seed for one purpose of one run, e.g. (run seed, round, shard).</summary>
    // Positive 63-bit values read well in manifests and suit every consumer (torch seeds are signed).
    public static long Derive(long seed, params ReadOnlySpan<long> parts) => (long)(SplitMix64.MixSeed(seed, parts) >> 1);
}
