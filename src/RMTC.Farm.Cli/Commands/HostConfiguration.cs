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
}
