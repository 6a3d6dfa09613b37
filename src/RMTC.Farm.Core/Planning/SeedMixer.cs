namespace RMTC.Farm.Core.Planning;

/// <summary>Derives independent, reproducible seeds from a run's seed (SplitMix64 finaliser), stable across platforms.</summary>
public static class SeedMixer
{
    /// <summary>A seed for one purpose of one run, e.g. (run seed, round, shard).</summary>
    public static long Derive(long seed, params ReadOnlySpan<long> parts)
    {
        var x = unchecked((ulong)seed);
        foreach (var p in parts)
        {
            x = Mix(x ^ Mix(unchecked((ulong)p) + 0x9E3779B97F4A7C15UL));
        }

        // Positive 63-bit values read well in manifests and suit every consumer (torch seeds are signed).
        return (long)(x >> 1);
    }

    private static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
