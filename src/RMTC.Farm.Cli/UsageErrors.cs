using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace RMTC.Farm.Cli;

/// <summary>
/// A command line that does not parse gets one short line on standard error (what is wrong, the nearest names, where the
/// help is) and exit code 2, the README's "invalid input". System.CommandLine's own reporting prints every error and then
/// the whole help (about 60 lines for the root) with exit code 1, which scripts cannot tell from a failed job and people
/// scroll past to find the one line that matters.
/// </summary>
internal static class UsageErrors
{
    /// <summary>The exit code of a command line that does not parse.</summary>
    public const int ExitCode = 2;

    /// <summary>Most names a suggestion lists.</summary>
    private const int MaxSuggestions = 3;

    /// <summary>
    /// The message for <paramref name="parse"/>'s first problem, or null when it parsed. An option-like word taken as a
    /// command's argument (<c>rmtc status --jsn</c> would otherwise look up a job named "--jsn") counts as an unknown
    /// option; after <c>--</c> such words are arguments, as usual.
    /// </summary>
    public static string? Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var path = CommandPath(parse.CommandResult);
        var unknownOption = OptionLikeArguments(parse).Concat(parse.UnmatchedTokens.Where(LooksLikeOption)).FirstOrDefault();
        if (unknownOption is not null)
        {
            return $"{path}: unknown option '{unknownOption}'.{Suggest(unknownOption, OptionNames(parse.CommandResult))}  ({path} --help lists the options)";
        }

        if (parse.UnmatchedTokens.FirstOrDefault() is { } extra)
        {
            var subcommands = CommandNames(command).ToList();
            return subcommands.Count > 0 && command.Arguments.Count == 0
                ? $"{path}: unknown command '{extra}'.{Suggest(extra, subcommands)}  ({path} --help lists the commands)"
                : $"{path}: unexpected argument '{extra}'.  ({path} --help shows the usage)";
        }

        if (parse.Errors.Count == 0)
        {
            return null;
        }

        // Some of System.CommandLine's messages list choices on tab-indented lines; the answer stays one line.
        var message = string.Join(' ', parse.Errors[0].Message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return $"{path}: {message.TrimEnd('.')}.  ({path} --help shows the usage)";
    }

    /// <summary>
    /// A command that only groups others (<c>rmtc</c>, <c>rmtc dataset</c>) given nothing after it: its help is the
    /// useful answer, not an error line.
    /// </summary>
    public static bool IsBareGroup(ParseResult parse) =>
        parse.UnmatchedTokens.Count == 0
        && !OptionLikeArguments(parse).Any()
        && parse.CommandResult.Command is { Action: null, Subcommands.Count: > 0 }
        && parse.CommandResult.Tokens.Count == 0;

    /// <summary>The names of the commands the parse went through, below the root (<c>["dataset", "import"]</c>).</summary>
    public static IReadOnlyList<string> CommandNames(ParseResult parse) =>
        CommandPath(parse.CommandResult).Split(' ').Skip(1).ToList();

    /// <summary>"rmtc dataset import" for the command result given.</summary>
    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is CommandResult c)
            {
                names.Add(c.Command is RootCommand ? "rmtc" : c.Command.Name);
            }
        }

        names.Reverse();
        return string.Join(' ', names);
    }

    private static bool LooksLikeOption(string token) =>
        token.Length > 1 && token[0] == '-' && !double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    /// <summary>Words bound to the commands' arguments that look like options and came before any <c>--</c>.</summary>
    private static IEnumerable<string> OptionLikeArguments(ParseResult parse)
    {
        var doubleDash = -1;
        for (var i = 0; i < parse.Tokens.Count; i++)
        {
            if (parse.Tokens[i].Type == TokenType.DoubleDash)
            {
                doubleDash = i;
                break;
            }
        }

        for (SymbolResult? r = parse.CommandResult; r is not null; r = r.Parent)
        {
            if (r is not CommandResult c)
            {
                continue;
            }

            foreach (var argument in c.Command.Arguments)
            {
                foreach (var token in parse.GetResult(argument)?.Tokens ?? [])
                {
                    var at = IndexOf(parse.Tokens, token);
                    if ((doubleDash < 0 || at < doubleDash) && LooksLikeOption(token.Value))
                    {
                        yield return token.Value;
                    }
                }
            }
        }
    }

    private static int IndexOf(IReadOnlyList<Token> tokens, Token token)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            if (ReferenceEquals(tokens[i], token))
            {
                return i;
            }
        }

        return -1;
    }

    private static IEnumerable<string> CommandNames(Command command) =>
        command.Subcommands.Where(s => !s.Hidden).SelectMany(s => s.Aliases.Prepend(s.Name));

    /// <summary>
    /// The options valid where the parse stopped: the command's own and its ancestors' recursive ones. One-letter
    /// aliases (<c>-o</c>) are left out: any one-letter slip is "near" them, and the long name is the clearer answer.
    /// </summary>
    private static IEnumerable<string> OptionNames(CommandResult result)
    {
        var own = true;
        for (SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is CommandResult c)
            {
                foreach (var option in c.Command.Options.Where(o => !o.Hidden && (own || o.Recursive)))
                {
                    foreach (var name in option.Aliases.Prepend(option.Name).Where(n => n.TrimStart('-').Length > 1))
                    {
                        yield return name;
                    }
                }

                own = false;
            }
        }
    }

    /// <summary>" Did you mean 'status'?" for the names nearest to <paramref name="typed"/>, or "" when none is near.</summary>
    private static string Suggest(string typed, IEnumerable<string> names)
    {
        var near = Typos.Nearest(typed, names, MaxSuggestions);
        return near.Count switch
        {
            0 => "",
            1 => $" Did you mean '{near[0]}'?",
            _ => $" Did you mean {string.Join(", ", near.SkipLast(1).Select(n => $"'{n}'"))} or '{near[^1]}'?",
        };
    }
}
