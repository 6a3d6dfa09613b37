using System.Text;

namespace RMTC.Farm.Core.Tests.Fuzz;

/// <summary>
/// Small job specs that cost far more than their size once read (amplification): aliases of a long scalar, aliased
/// long keys, wide flow sequences of aliases, and floods of unknown keys whose errors outgrow the spec. Each appends to
/// a valid head (name, recipe, dataset) and is about <c>bytes</c> long. Shared with the integration tests, which send
/// each to a real coordinator.
/// </summary>
internal static class SpecAmplifiers
{
    /// <summary>Each amplifier's name and builder (head, approximate size in bytes).</summary>
    public static readonly IReadOnlyList<(string Name, Func<string, int, string> Build)> All =
    [
        ("aliases of a long scalar", (head, bytes) => head + "resources:\n  tags: " + AliasedScalarList(bytes / 4, bytes * 3 / 4) + "\n"),
        ("aliased long keys", (head, bytes) => head + AliasedKeys(bytes / 4, bytes * 3 / 4)),
        ("wide flow sequence of aliases", (head, bytes) => head + "resources:\n  tags: [&t gpu" + Repeat(", *t", bytes) + "]\n"),
        ("wide flow sequence", (head, bytes) => head + "resources:\n  tags: [a" + Repeat(", a", bytes) + "]\n"),
        ("unknown keys", (head, bytes) => head + string.Concat(Enumerable.Range(0, bytes / 10).Select(i => $"k{i:D5}: 1\n"))),
        // Explicit keys ("? key"): YAML caps implicit ones at 1024 characters.
        ("long unknown keys", (head, bytes) => head + string.Concat(Enumerable.Range(0, 40).Select(i => $"? {i}{new string('k', bytes / 40)}\n: 1\n"))),
    ];

    /// <summary><c>[&amp;t "TTT…", *t, *t, …]</c>: one anchored scalar of <paramref name="length"/> characters, repeated by aliases filling <paramref name="aliasBytes"/>.</summary>
    public static string AliasedScalarList(int length, int aliasBytes) => "[&t \"" + new string('T', length) + "\"" + Repeat(", *t", aliasBytes) + "]";

    /// <summary>A long key anchored once, then aliased as the key of one small mapping after another.</summary>
    private static string AliasedKeys(int length, int aliasBytes)
    {
        var sb = new StringBuilder("local:\n  ? &k ").Append('k', length).Append("\n  : 1\n");
        for (var i = 0; i < aliasBytes / 14; i++)
        {
            sb.Append("x").Append(i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture)).Append(": {*k : 1}\n");
        }

        return sb.ToString();
    }

    private static string Repeat(string text, int bytes) => string.Concat(Enumerable.Repeat(text, Math.Max(1, bytes / text.Length)));
}
