using System.Globalization;

namespace RMTC.Farm.Core.Jobs;

/// <summary>Memory sizes as wranglers write them: <c>512m</c>, <c>8g</c>, <c>8GiB</c>, or a bare number of MiB.</summary>
public static class ByteSize
{
    /// <summary>Parses to MiB; false when the text is not a size.</summary>
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

        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || double.IsInfinity(value))
        {
            return false;
        }

        mib = (long)Math.Ceiling(value * factor);
        return true;
    }

    private static readonly (string Suffix, double Factor)[] Suffixes =
    [
        ("tib", 1024 * 1024), ("gib", 1024), ("mib", 1), ("kib", 1.0 / 1024),
        ("tb", 1024 * 1024), ("gb", 1024), ("mb", 1), ("kb", 1.0 / 1024),
        ("t", 1024 * 1024), ("g", 1024), ("m", 1), ("k", 1.0 / 1024),
    ];
}
