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

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
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
