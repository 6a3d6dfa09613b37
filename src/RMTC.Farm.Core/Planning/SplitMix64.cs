using System.Text;

namespace RMTC.Farm.Core.Planning;

/// <summary>
/// SplitMix64: a tiny deterministic PRNG, fully specified here so data, shuffles and initial weights are the same
/// bytes on every .NET version and platform (unlike <see cref="Random"/> or a library's generator).
/// Shard plans, run seeds, synthesized data, shuffles and initial weights all draw from it.
/// </summary>
public struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    /// <summary>A generator for one purpose, e.g. (dataset seed, sample index): parts are mixed in order.</summary>
    public static SplitMix64 For(long seed, params ReadOnlySpan<long> parts) => new(MixSeed(seed, parts));

    /// <summary>Mixes parts into a seed (order matters); stable across platforms.</summary>
    public static ulong MixSeed(long seed, params ReadOnlySpan<long> parts)
    {
        var x = Finalise(unchecked((ulong)seed) + 0x9E3779B97F4A7C15UL);
        foreach (var p in parts)
        {
            // The multiply makes the mix order-dependent: (3, 11) and (11, 3) must not give the same stream.
            x = Finalise(unchecked(x * 0xD1342543DE82EF95UL) ^ Finalise(unchecked((ulong)p) + 0x9E3779B97F4A7C15UL));
        }

        return x;
    }

    /// <summary>FNV-1a 64 of the UTF-8 bytes: a stable hash for names (string.GetHashCode is randomised per process).</summary>
    public static long StableHash(string text)
    {
        ulong h = 0xcbf29ce484222325UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            h = unchecked((h ^ b) * 0x100000001b3UL);
        }

        return unchecked((long)h);
    }

    public ulong NextUInt64()
    {
        unchecked
        {
            _state += 0x9E3779B97F4A7C15UL;
            return Finalise(_state);
        }
    }

    /// <summary>Uniform in [0, bound) by rejection of the lowest (2^64 mod bound) values (no modulo bias); bound &gt; 0.</summary>
    public ulong NextBelow(ulong bound)
    {
        var threshold = unchecked(0UL - bound) % bound;
        while (true)
        {
            var r = NextUInt64();
            if (r >= threshold)
            {
                return r % bound;
            }
        }
    }

    /// <summary>Uniform in [0, 1) with 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1) with 24 bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform in [lo, hi).</summary>
    public double Uniform(double lo, double hi) => lo + ((hi - lo) * NextDouble());

    /// <summary>Uniform integer in [0, n), unbiased (Lemire's multiply-shift with rejection).</summary>
    public int NextInt(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        var bound = (ulong)n;
        while (true)
        {
            var r = NextUInt64();
            var m = Math.BigMul(r, bound, out var low);
            if (low >= bound || low >= unchecked(0UL - bound) % bound)
            {
                return (int)m;
            }
        }
    }

    /// <summary>Standard normal (Box-Muller, one value per call).</summary>
    public double NextGaussian()
    {
        var u1 = 1.0 - NextDouble(); // (0, 1]
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>In-place Fisher-Yates shuffle.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong Finalise(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
