using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using RMTC.Farm.Protos.Client;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>
/// The tokens the coordinator accepts, loaded once at start: the farm token agents present, and the wranglers' tokens.
/// Either may be absent (that side is then open).
/// </summary>
public sealed class FarmAccess
{
    /// <summary>Configuration key of the environment variable <c>RMTC_FARM_TOKEN</c> (the host reads <c>RMTC_*</c> variables).</summary>
    public const string FarmTokenKey = "FARM_TOKEN";

    private readonly byte[]? _agentTokenDigest;
    private readonly IReadOnlyDictionary<string, WranglerIdentity>? _wranglers;

    public FarmAccess(IOptions<SecurityOptions> options, IConfiguration configuration)
    {
        var o = options.Value;
        var agentToken = AgentToken(o, configuration);
        _agentTokenDigest = agentToken is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(agentToken));
        _wranglers = string.IsNullOrWhiteSpace(o.WranglerTokensFile) ? null : WranglerTokensFile.Load(o.WranglerTokensFile);
        AgentCertificates = o.Tls.Enabled && !string.IsNullOrWhiteSpace(o.Tls.AgentCaPath);
    }

    /// <summary>True when agents must authenticate: with the farm token, or a client certificate of the agents' CA.</summary>
    public bool AgentsAuthenticated => _agentTokenDigest is not null || AgentCertificates;

    /// <summary>True when a client certificate chained to <see cref="TlsOptions.AgentCaPath"/> authenticates an agent (mutual TLS).</summary>
    public bool AgentCertificates { get; }

    /// <summary>True when wranglers must present a token (and see only their shows' jobs).</summary>
    public bool WranglersAuthenticated => _wranglers is not null;

    /// <summary>The farm token from <see cref="SecurityOptions.AgentTokenFile"/>, else <c>RMTC_FARM_TOKEN</c>, else null.</summary>
    public static string? AgentToken(SecurityOptions options, IConfiguration configuration) =>
        FarmCredentials.ResolveToken(string.IsNullOrWhiteSpace(options.AgentTokenFile) ? configuration[FarmTokenKey] : null, options.AgentTokenFile, "Coordinator:AgentTokenFile");

    /// <summary>
    /// True when the settings ask for any token or client certificate (agents' or wranglers'), judged by what is set,
    /// without reading the files: Kestrel's listeners are configured before the files are checked on start.
    /// </summary>
    public static bool TokensConfigured(SecurityOptions options, IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(options.AgentTokenFile)
        || !string.IsNullOrWhiteSpace(configuration[FarmTokenKey])
        || !string.IsNullOrWhiteSpace(options.WranglerTokensFile)
        || (options.Tls.Enabled && !string.IsNullOrWhiteSpace(options.Tls.AgentCaPath));

    /// <summary>True when <paramref name="token"/> is the farm token (constant time).</summary>
    public bool IsFarmToken(string token) =>
        _agentTokenDigest is { } expected && CryptographicOperations.FixedTimeEquals(expected, SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>
    /// Why an agent's request is refused, or null when it may go on: a client certificate (Kestrel accepted the handshake
    /// only if it chains to the agents' CA, <see cref="TlsOptions.AgentCaPath"/>) or the farm token. The gRPC services and
    /// the data plane ask this same question.
    /// </summary>
    public string? AgentRefusal(bool presentedClientCertificate, string? bearerToken)
    {
        if (!AgentsAuthenticated || (AgentCertificates && presentedClientCertificate))
        {
            return null;
        }

        if (bearerToken is null)
        {
            return AgentCertificates
                ? "this coordinator requires agents to present a client certificate of the farm's agent CA (Agent:ClientCertificatePath, Coordinator:Tls:AgentCaPath) or the farm token (--token-file / RMTC_FARM_TOKEN)"
                : "this coordinator requires the farm token from agents: give the agent --token-file FILE (Agent:TokenFile) or RMTC_FARM_TOKEN, holding the coordinator's Coordinator:AgentTokenFile";
        }

        return IsFarmToken(bearerToken)
            ? null
            : "the token presented is not this farm's token: check the agent's --token-file / RMTC_FARM_TOKEN against the coordinator's Coordinator:AgentTokenFile";
    }

    /// <summary>The wrangler a token stands for, or null when it is no wrangler's.</summary>
    public WranglerIdentity? Wrangler(string token) =>
        _wranglers is not null && _wranglers.TryGetValue(WranglerTokensFile.Digest(token), out var identity) ? identity : null;
}
