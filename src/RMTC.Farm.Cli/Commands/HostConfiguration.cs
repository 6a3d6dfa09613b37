using System.CommandLine.Parsing;
using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace RMTC.Farm.Cli.Commands;

/// <summary>Layers configuration for the daemons, lowest to highest: --config FILE, RMTC_* environment, flags.</summary>
internal static class HostConfiguration
{
    public static void Apply(IConfigurationBuilder builder, FileInfo? configFile, IDictionary<string, string?> flags)
    {
        if (configFile is not null)
        {
            if (!configFile.Exists)
            {
                throw new FileNotFoundException($"--config {configFile.FullName}: no such file (it should be JSON, e.g. farm/config/coordinator.json)");
            }

            builder.AddJsonFile(configFile.FullName, optional: false, reloadOnChange: false);

            // Environment overrides the file (systemd EnvironmentFile= tweaks a shared config).
            builder.AddEnvironmentVariables("RMTC_");
        }

        builder.AddInMemoryCollection(flags.Where(kv => kv.Value is not null));
    }

    public static string? Text<T>(T? value) => value switch
    {
        null => null,
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    /// <summary>Parses a duration flag: <c>250ms</c>, <c>1s</c>, <c>1.5s</c>, <c>2m</c>, or a TimeSpan (<c>00:00:01</c>).</summary>
    public static TimeSpan? ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value.Trim() : "";
        if (Core.Jobs.DurationText.TryParse(text, out var duration))
        {
            return duration;
        }

        result.AddError($"'{text}' is not a duration: write e.g. 250ms, 1s, 1.5s, 2m or 00:00:01");
        return null;
    }
}
