using System.CommandLine;
using RMTC.Farm.Protos.Client;

namespace RMTC.Farm.Cli.Client;

/// <summary>
/// The wrangler's credentials for every client command (those with <c>--coordinator</c>, not the agent, whose farm token
/// is another thing): <c>--token</c>, <c>--token-file</c> and <c>--ca</c>, else <c>RMTC_TOKEN</c>, <c>RMTC_TOKEN_FILE</c>,
/// <c>RMTC_CA_FILE</c>, else the token file <c>~/.config/rmtc/token</c> when it exists.
/// </summary>
internal static class ClientAuth
{
    private static readonly Option<string?> Token = new("--token") { Description = "Wrangler token (default: $RMTC_TOKEN, $RMTC_TOKEN_FILE, else ~/.config/rmtc/token); prefer --token-file: a flag shows in ps" };
    private static readonly Option<FileInfo?> TokenFile = new("--token-file") { Description = "File holding the wrangler token (first line)" };
    private static readonly Option<FileInfo?> Ca = new("--ca") { Description = "Farm CA (PEM) that signed the coordinator's certificate, for an https:// coordinator (default: $RMTC_CA_FILE)" };
    private static ParseResult? _parse;

    /// <summary>Adds the options to every command under <paramref name="root"/> that talks to the coordinator as a wrangler.</summary>
    public static void AddTo(Command root)
    {
        foreach (var command in root.Subcommands)
        {
            if (command.Name != "agent" && command.Options.Any(o => o.Name == "--coordinator"))
            {
                command.Options.Add(Token);
                command.Options.Add(TokenFile);
                command.Options.Add(Ca);
            }

            AddTo(command);
        }
    }

    /// <summary>Remembers the command line the credentials are read from (one command per process).</summary>
    public static void Use(ParseResult parse) => _parse = parse;

    /// <summary>The credentials in effect. Throws <see cref="InvalidOperationException"/> naming an unreadable file.</summary>
    public static FarmCredentials Current()
    {
        var token = Value(Token) ?? Environment.GetEnvironmentVariable("RMTC_TOKEN");
        var tokenFile = Value(TokenFile)?.FullName ?? Environment.GetEnvironmentVariable("RMTC_TOKEN_FILE");
        if (string.IsNullOrWhiteSpace(token) && string.IsNullOrWhiteSpace(tokenFile) && File.Exists(DefaultTokenFile))
        {
            tokenFile = DefaultTokenFile;
        }

        var ca = Value(Ca)?.FullName ?? Environment.GetEnvironmentVariable("RMTC_CA_FILE");
        if (!string.IsNullOrWhiteSpace(ca) && !File.Exists(ca))
        {
            throw new InvalidOperationException($"--ca / RMTC_CA_FILE {ca}: no such file; give the farm CA's PEM certificate");
        }

        return new FarmCredentials(FarmCredentials.ResolveToken(token, tokenFile, "--token-file / RMTC_TOKEN_FILE"), string.IsNullOrWhiteSpace(ca) ? null : ca);
    }

    /// <summary><c>$XDG_CONFIG_HOME/rmtc/token</c> (<c>~/.config/rmtc/token</c>).</summary>
    public static string DefaultTokenFile => Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config"),
        "rmtc", "token");

    private static T? Value<T>(Option<T> option) =>
        _parse is not null && _parse.CommandResult.Command.Options.Contains(option) ? _parse.GetValue(option) : default;
}
