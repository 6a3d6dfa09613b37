using System.Globalization;
using System.Text.RegularExpressions;

namespace RMTC.Farm.Core.OpenCue;

/// <summary>
/// OpenCue's frame range syntax: comma-separated parts, each a frame (<c>5</c>), a range (<c>1-8</c>, also
/// descending <c>8-1</c>), a stepped range (<c>1-10x2</c>: every 2nd), or an inverted one (<c>1-10y2</c>: all but every
/// 2nd). Frames keep their written order; a frame listed twice counts once.
/// </summary>
public static partial class FrameSet
{
    /// <summary>Most frames one range may expand to (Cuebot caps a job's frames too).</summary>
    public const int MaxFrames = 100_000;

    /// <summary>Most frames all parts together may walk over, repeats and left-out frames included.</summary>
    private const long MaxWalk = 10L * MaxFrames;

    /// <summary>Expands <paramref name="text"/>; false with a reason naming the bad part when it is not a frame range.</summary>
    public static bool TryParse(string text, out IReadOnlyList<int> frames, out string error)
    {
        frames = [];
        error = "";
        var seen = new HashSet<int>();
        var list = new List<int>();
        long walked = 0;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (text.Trim().Length == 0)
        {
            error = "the frame range is empty: write e.g. 1-8, 1-10x2 or 1,3,5";
            return false;
        }

        foreach (var part in parts)
        {
            var m = PartPattern().Match(part);
            if (!m.Success)
            {
                error = $"'{Echo.Of(part)}' is not a frame range part: write a frame (5), a range (1-8), a step (1-10x2) or an inverted step (1-10y2)";
                return false;
            }

            if (!int.TryParse(m.Groups["a"].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var start)
                || !int.TryParse(m.Groups["b"].Success ? m.Groups["b"].Value : m.Groups["a"].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var end))
            {
                error = $"'{Echo.Of(part)}': frame numbers must fit in 32 bits";
                return false;
            }

            var step = 1;
            if (m.Groups["n"].Success && (!int.TryParse(m.Groups["n"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out step) || step == 0))
            {
                error = $"'{Echo.Of(part)}': the step must be a positive whole number";
                return false;
            }

            var inverted = m.Groups["op"].Value == "y";
            var direction = end >= start ? 1 : -1;
            var span = Math.Abs((long)end - start) + 1;

            // Count first: a range such as 1-2000000000y1 selects nothing but would take seconds to walk.
            var onStepCount = ((span - 1) / step) + 1;
            var selected = inverted ? span - onStepCount : onStepCount;
            walked += inverted ? span : selected;
            if (selected > MaxFrames)
            {
                error = $"'{Echo.Of(text)}' expands to more than {MaxFrames} frames";
                return false;
            }

            // Parts that repeat the same frames add nothing but still cost a walk each; bound the total.
            if (walked > MaxWalk)
            {
                error = $"'{Echo.Of(text)}' lists more than {MaxWalk} frames counting repeats: list each frame once";
                return false;
            }

            for (long i = 0; i < span; i += inverted ? 1 : step)
            {
                if (inverted && i % step == 0)
                {
                    continue;
                }

                var f = (int)(start + (direction * i));
                if (seen.Add(f))
                {
                    list.Add(f);
                    if (list.Count > MaxFrames)
                    {
                        error = $"'{Echo.Of(text)}' expands to more than {MaxFrames} frames";
                        return false;
                    }
                }
            }
        }

        if (list.Count == 0)
        {
            error = $"'{Echo.Of(text)}' selects no frames (an inverted step of 1 leaves none out of the range): write e.g. 1-10y2 or 1-10x2";
            return false;
        }

        frames = list;
        return true;
    }

    [GeneratedRegex(@"^(?<a>-?[0-9]+)(?:-(?<b>-?[0-9]+)(?:(?<op>[xy])(?<n>[0-9]+))?)?$")]
    private static partial Regex PartPattern();
}
