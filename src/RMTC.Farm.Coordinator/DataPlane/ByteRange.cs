using System.Globalization;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>
/// One span of bytes, <see cref="From"/> to <see cref="To"/> inclusive, as HTTP's <c>Range</c> and <c>Content-Range</c>
/// headers name it. Only single ranges: a multi-range request is answered whole, as RFC 9110 allows.
/// </summary>
/// <param name="From">First byte.</param>
/// <param name="To">Last byte (inclusive).</param>
public readonly record struct ByteRange(long From, long To)
{
    /// <summary>Bytes in the range.</summary>
    public long Length => To - From + 1;

    /// <summary>
    /// The range a <c>Range</c> header asks of a <paramref name="size"/>-byte artifact: null when the header is absent,
    /// not in bytes, or names several ranges (the whole artifact is sent); <paramref name="satisfiable"/> is false when
    /// it asks only for bytes past the end (answered 416).
    /// </summary>
    public static ByteRange? FromRangeHeader(string? header, long size, out bool satisfiable)
    {
        satisfiable = true;
        const string unit = "bytes=";
        if (string.IsNullOrWhiteSpace(header) || !header.StartsWith(unit, StringComparison.OrdinalIgnoreCase) || header.Contains(',', StringComparison.Ordinal))
        {
            return null;
        }

        var spec = header[unit.Length..].Trim();
        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return null;
        }

        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.Length == 0)
        {
            // bytes=-N: the last N bytes.
            if (!TryParse(last, out var suffix))
            {
                return null;
            }

            if (suffix == 0 || size == 0)
            {
                return Unsatisfiable(out satisfiable);
            }

            return new ByteRange(Math.Max(0, size - suffix), size - 1);
        }

        long to = long.MaxValue;
        if (!TryParse(first, out var from) || (last.Length > 0 && (!TryParse(last, out to) || to < from)))
        {
            return null;
        }

        if (from >= size)
        {
            return Unsatisfiable(out satisfiable);
        }

        return new ByteRange(from, Math.Min(to, size - 1));
    }

    /// <summary>
    /// Parses <c>Content-Range: bytes FROM-TO/TOTAL</c> (an upload's piece). Returns false with the reason when it is not
    /// that form or does not add up.
    /// </summary>
    public static bool TryParseContentRange(string header, out ByteRange range, out long total, out string problem)
    {
        range = default;
        total = 0;
        problem = "";
        const string unit = "bytes ";
        var slash = header.IndexOf('/', StringComparison.Ordinal);
        var dash = header.IndexOf('-', StringComparison.Ordinal);
        if (!header.StartsWith(unit, StringComparison.OrdinalIgnoreCase) || slash < 0 || dash < 0 || dash > slash
            || !TryParse(header[unit.Length..dash].Trim(), out var from)
            || !TryParse(header[(dash + 1)..slash].Trim(), out var to)
            || !TryParse(header[(slash + 1)..].Trim(), out total))
        {
            problem = $"Content-Range '{header}' is not 'bytes FROM-TO/TOTAL' (e.g. bytes 1048576-4194303/4194304)";
            return false;
        }

        if (to < from || to >= total)
        {
            problem = $"Content-Range '{header}' does not add up: FROM <= TO < TOTAL";
            return false;
        }

        range = new ByteRange(from, to);
        return true;
    }

    /// <summary>The <c>Content-Range</c> value of this range of a <paramref name="size"/>-byte artifact.</summary>
    public string ContentRange(long size) => string.Create(CultureInfo.InvariantCulture, $"bytes {From}-{To}/{size}");

    private static ByteRange? Unsatisfiable(out bool satisfiable)
    {
        satisfiable = false;
        return null;
    }

    private static bool TryParse(string text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
