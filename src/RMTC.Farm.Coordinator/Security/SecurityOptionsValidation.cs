using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>
/// Checks the security settings on start by loading what they name (token files, the tokens file, the certificate),
/// so a wrong path stops the coordinator with a message naming the file instead of failing the first call.
/// </summary>
public sealed class SecurityOptionsValidation(IConfiguration configuration) : IValidateOptions<SecurityOptions>
{
    public ValidateOptionsResult Validate(string? name, SecurityOptions options)
    {
        var failures = new List<string>();
        Try(failures, () => FarmAccess.AgentToken(options, configuration));
        if (!string.IsNullOrWhiteSpace(options.WranglerTokensFile))
        {
            Try(failures, () => WranglerTokensFile.Load(options.WranglerTokensFile));
        }

        if (options.Tls.Enabled)
        {
            Try(failures, () =>
            {
                using var certificate = CoordinatorTls.Load(options.Tls);
                return certificate.Subject;
            });
        }
        else if (!string.IsNullOrWhiteSpace(options.Tls.KeyPath))
        {
            failures.Add("Coordinator:Tls:KeyPath is set without Coordinator:Tls:CertificatePath: set both (PEM) or neither");
        }

        if (!string.IsNullOrWhiteSpace(options.Tls.AgentCaPath))
        {
            if (!options.Tls.Enabled)
            {
                failures.Add("Coordinator:Tls:AgentCaPath (mutual TLS for agents) needs TLS: set Coordinator:Tls:CertificatePath too");
            }

            Try(failures, () => RMTC.Farm.Protos.Client.FarmCredentials.LoadCa(options.Tls.AgentCaPath).Count);
        }

        foreach (var root in options.DatasetRoots.Where(r => !string.IsNullOrWhiteSpace(r)))
        {
            if (!Path.IsPathRooted(root) || !Directory.Exists(root))
            {
                failures.Add($"Coordinator:DatasetRoots: '{root}' is not an existing absolute directory: give the directories datasets live under, e.g. /farm/datasets");
            }
        }

        ValidateOpenCueSubmitHosts(options, failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Each entry must name at least one address and one show: a grant to no show, or to nobody, is a mistake.</summary>
    private static void ValidateOpenCueSubmitHosts(SecurityOptions options, List<string> failures)
    {
        const string setting = "Coordinator:OpenCueSubmitHosts";
        for (var i = 0; i < options.OpenCueSubmitHosts.Count; i++)
        {
            var entry = options.OpenCueSubmitHosts[i];
            if (entry.Addresses.Count == 0)
            {
                failures.Add($"{setting}:{i}:Addresses is empty: list the submit hosts' addresses or networks, e.g. [\"10.20.0.7\", \"10.20.0.0/24\"]");
            }

            for (var j = 0; j < entry.Addresses.Count; j++)
            {
                if (!OpenCueAccess.TryParseNetwork(entry.Addresses[j], out _))
                {
                    failures.Add($"{setting}:{i}:Addresses:{j} '{entry.Addresses[j]}' is not an IP address or CIDR network: write e.g. 10.20.0.7 or 10.20.0.0/24 (host bits zero), not a host name");
                }
            }

            if (entry.Shows.Count == 0 || entry.Shows.Any(string.IsNullOrWhiteSpace))
            {
                failures.Add($"{setting}:{i}:Shows {(entry.Shows.Count == 0 ? "is empty" : "has a blank entry")}: name the shows these hosts may launch into and act on, e.g. [\"bigshow\"] (there is no wildcard)");
            }
        }
    }

    private static void Try<T>(List<string> failures, Func<T> load)
    {
        try
        {
            load();
        }
        catch (InvalidOperationException e)
        {
            failures.Add(e.Message);
        }
    }
}
