using System.CommandLine;

namespace RMTC.Farm.Cli;

/// <summary>
/// System.CommandLine's help writes every argument as <c>&lt;JOB&gt;</c>, required or not: <c>status &lt;JOB&gt;</c> in
/// the command list reads as if a job were needed, and 3.0 keeps its help builder's customisation internal. This
/// rewrites the optional ones as <c>[JOB]</c>, the usual convention, on the lines that describe them: the usage line,
/// the command's Arguments section and its subcommands' rows. <c>&lt;JOB&gt;</c> and <c>[JOB]</c> are the same width,
/// so the columns stay aligned.
/// </summary>
internal static class OptionalArgumentsHelp
{
    /// <summary>The help text <paramref name="help"/> of <paramref name="command"/>, with its optional arguments marked.</summary>
    public static string Mark(string help, Command command)
    {
        var own = OptionalNames(command).ToList();
        var lines = help.Split('\n');
        var section = "";
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var trimmed = line.TrimStart();
            if (line.Length > 0 && !char.IsWhiteSpace(line[0]))
            {
                section = line.TrimEnd('\r');
                continue;
            }

            switch (section)
            {
                case "Usage:":
                    line = own.Aggregate(line, (l, n) => l.Replace($"[<{n}>]", $"[{n}]", StringComparison.Ordinal));
                    break;
                case "Arguments:":
                    line = own.Where(n => trimmed.StartsWith($"<{n}>", StringComparison.Ordinal))
                        .Aggregate(line, (l, n) => ReplaceFirst(l, $"<{n}>", $"[{n}]"));
                    break;
                case "Commands:":
                    foreach (var sub in command.Subcommands.Where(s => s.Aliases.Prepend(s.Name).Any(a => trimmed.StartsWith(a + " ", StringComparison.Ordinal))))
                    {
                        line = OptionalNames(sub).Aggregate(line, (l, n) => ReplaceFirst(l, $"<{n}>", $"[{n}]"));
                    }

                    break;
            }

            lines[i] = line;
        }

        return string.Join('\n', lines);
    }

    private static IEnumerable<string> OptionalNames(Command command) =>
        command.Arguments.Where(a => !a.Hidden && a.Arity.MinimumNumberOfValues == 0).Select(a => a.Name);

    private static string ReplaceFirst(string text, string what, string with)
    {
        var at = text.IndexOf(what, StringComparison.Ordinal);
        return at < 0 ? text : string.Concat(text.AsSpan(0, at), with, text.AsSpan(at + what.Length));
    }
}
