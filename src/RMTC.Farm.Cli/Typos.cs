namespace RMTC.Farm.Cli;

/// <summary>
/// Which known names a mistyped word was probably meant to be. System.CommandLine keeps its own typo matcher private
/// (it only prints through its full-help error report), so the CLI has this small one: edit distance with swapped
/// neighbours counted as one edit (<c>stauts</c> is one edit from <c>status</c>), plus names the word begins
/// (<c>--data</c> for <c>--data-dir</c>).
/// </summary>
internal static class Typos
{
    /// <summary>Up to <paramref name="max"/> names near <paramref name="typed"/>, nearest first.</summary>
    public static IReadOnlyList<string> Nearest(string typed, IEnumerable<string> names, int max)
    {
        var word = typed.TrimStart('-').ToLowerInvariant();
        var allowed = Math.Max(1, word.Length / 3);
        return names
            .Distinct(StringComparer.Ordinal)
            .Select(name => (Name: name, Key: name.TrimStart('-').ToLowerInvariant()))
            .Select(n => (n.Name, Distance: Distance(word, n.Key), Prefix: word.Length >= 3 && n.Key.StartsWith(word, StringComparison.Ordinal)))
            .Where(n => n.Distance <= allowed || n.Prefix)
            .OrderBy(n => n.Prefix ? 0 : n.Distance)
            .ThenBy(n => n.Name, StringComparer.Ordinal)
            .Take(max)
            .Select(n => n.Name)
            .ToList();
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps.</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
