using System.Globalization;

namespace RMTC.Farm.Core.Jobs;

/// <summary>Durations as wranglers write them: <c>250ms</c>, <c>90s</c>, <c>1.5m</c>, <c>2h</c>, or a TimeSpan (<c>00:10:00</c>).</summary>
public static class DurationText
{
    private static readonly (string Suffix, double Ms)[] Units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];

    /// <summary>Parses a non-negative duration; false when the text is not one (or is beyond a day's thousand-fold).</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = default;
        var s = (text ?? "").Trim();
        foreach (var (suffix, ms) in Units)
        {
            if (s.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(s[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
                && n >= 0 && n * ms <= MaxMilliseconds)
            {
                duration = TimeSpan.FromMilliseconds(n * ms);
                return true;
            }
        }

        if (TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero)
        {
            duration = span;
            return true;
        }

        return false;
    }

    /// <summary>Writes a duration the way <see cref="TryParse"/> reads it back (for messages and manifests).</summary>
    public static string Format(TimeSpan duration) => duration.TotalMilliseconds switch
    {
        < 1000 => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMilliseconds:0.###}ms"),
        < 120_000 => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalSeconds:0.###}s"),
        < 7_200_000 => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMinutes:0.###}m"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalHours:0.###}h"),
    };

    // 1000 days: far beyond any round, well inside TimeSpan's range.
    private const double MaxMilliseconds = 1000.0 * 24 * 3_600_000;
}
