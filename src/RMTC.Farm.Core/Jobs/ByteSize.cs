using System.Globalization;

namespace RMTC.Farm.Core.Jobs;

/// <summary>Memory sizes as wranglers write them: <c>512m</c>, <c>8g</c>, <c>8GiB</c>, or a bare number of MiB.</summary>
public static class ByteSize
{
    /// <summary>Largest size a spec may ask for, in MiB (1 PiB): beyond any node, and far from overflowing sums of sizes.</summary>
    public const long MaxMiB = 1L << 30;

    /// <summary>Parses to MiB; false when the text is not a size (NaN and infinities are not). Callers check <see cref="MaxMiB"/>.</summary>
    public static bool TryParseMiB(string text, out long mib)
    {
        mib = 0;
        var s = text.Trim().ToLowerInvariant().Replace(" ", "");
        double factor = 1;
        foreach (var (suffix, f) in Suffixes)
        {
            if (s.EndsWith(suffix, StringComparison.Ordinal))
            {
                s = s[..^suffix.Length];
                factor = f;
                break;
            }
        }

        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || !double.IsFinite(value * factor))
        {
            return false;
        }

        // Saturates rather than wraps for absurd values, so the caller's limit check sees them.
        mib = (long)Math.Min(Math.Ceiling(value * factor), long.MaxValue);
        return true;
    }

    private static readonly (string Suffix, double Factor)[] Suffixes =
    [
        ("tib", 1024 * 1024), ("gib", 1024), ("mib", 1), ("kib", 1.0 / 1024),
        ("tb", 1024 * 1024), ("gb", 1024), ("mb", 1), ("kb", 1.0 / 1024),
        ("t", 1024 * 1024), ("g", 1024), ("m", 1), ("k", 1.0 / 1024),
    ];
}
