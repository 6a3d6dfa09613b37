using System.Globalization;
using YamlDotNet.Core;

namespace RMTC.Farm.Core.Yaml;

/// <summary>
/// Errors for files that are not YAML at all (a binary file, JSON with a stray comma, a script given by mistake), in
/// words a wrangler acts on: which file, where, what the file should look like. YamlDotNet's own messages ("Did not find
/// expected &lt;document end&gt;") describe its parser's state, not the file.
/// </summary>
internal static class NotYaml
{
    /// <summary>
    /// A problem when <paramref name="text"/> holds a control character YAML never allows (NUL and the other C0 codes but
    /// tab, line feed and carriage return; DEL), as binary files do; null when it is text. <paramref name="at"/> names
    /// the file and a line in the caller's style (<c>job.yaml:3</c>, <c>dataset.yaml line 3</c>).
    /// </summary>
    public static string? NotText(string text, Func<long, string> at, string expected)
    {
        long line = 1;
        long column = 1;
        foreach (var c in text)
        {
            if (c == '\n')
            {
                line++;
                column = 1;
                continue;
            }

            if ((c < 0x20 && c is not '\t' and not '\r') || c == 0x7F)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"{at(line)}: not a text file: control character U+{(int)c:X4} at column {column}, as in binary data. {expected}");
            }

            column++;
        }

        return null;
    }

    /// <summary>
    /// The message for YAML that does not parse: the file and line, the parser's words, and what the file should look
    /// like (<paramref name="expected"/>, a sentence). <paramref name="at"/> names the file and a line as above, or the
    /// file alone for line 0 (a fault the parser does not locate).
    /// </summary>
    public static string Message(string text, Func<long, string> at, YamlException e, string expected)
    {
        var column = e.Start.Line > 0 && e.Start.Column > 1 ? string.Create(CultureInfo.InvariantCulture, $" (column {e.Start.Column})") : "";
        var reason = (e.InnerException?.Message ?? e.Message).TrimEnd('.');
        // JSON is YAML's flow style, so a .json file parses unless its brackets, commas or quotes are off.
        var json = text.TrimStart() is ['{' or '[', ..]
            ? " JSON is read as YAML, so check its brackets, commas and quotes."
            : "";
        return $"{at(Math.Max(0, e.Start.Line))}: not valid YAML: {reason}{column}. {expected}{json}";
    }
}
