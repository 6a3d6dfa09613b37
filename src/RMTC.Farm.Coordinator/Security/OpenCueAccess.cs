using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>
/// Who may use the OpenCue port. pycue cannot send a token or do TLS, so on a coordinator that requires tokens the port
/// is off unless the admin lists submit hosts (<see cref="SecurityOptions.OpenCueSubmitHosts"/>): then it answers those
/// addresses only, each for its shows only. On an open coordinator it answers anyone for every show, unless hosts are
/// listed there too.
/// </summary>
public sealed class OpenCueAccess
{
    private readonly IReadOnlyList<SubmitHost> _hosts;

    public OpenCueAccess(IOptions<SecurityOptions> security, IConfiguration configuration)
    {
        // Entries that do not parse are left out here; validation on start has already refused them.
        _hosts = security.Value.OpenCueSubmitHosts.Select(h => new SubmitHost(
                h.Addresses.Select(a => TryParseNetwork(a, out var n) ? n : (IPNetwork?)null).OfType<IPNetwork>().ToList(),
                h.Shows.Where(s => !string.IsNullOrWhiteSpace(s)).Select(s => s.Trim()).ToHashSet(StringComparer.Ordinal)))
            .Where(h => h.Networks.Count > 0 && h.Shows.Count > 0)
            .ToList();
        Secured = FarmAccess.TokensConfigured(security.Value, configuration);
    }

    /// <summary>True when the coordinator requires tokens (agents' or wranglers'): the OpenCue port then needs listed submit hosts.</summary>
    public bool Secured { get; }

    /// <summary>True when only listed submit hosts are answered, each for its shows; false: anyone, every show.</summary>
    public bool Scoped => _hosts.Count > 0;

    /// <summary>
    /// Whether the OpenCue port is to listen: not when turned off (<c>OpenCuePort</c> -1), nor on a coordinator requiring
    /// tokens that lists no submit hosts. Read from the unvalidated settings, as Kestrel is configured before validation.
    /// </summary>
    public static bool Listen(CoordinatorOptions coordinator, SecurityOptions security, IConfiguration configuration) =>
        coordinator.OpenCuePort >= 0 && (security.OpenCueSubmitHosts.Count > 0 || !FarmAccess.TokensConfigured(security, configuration));

    /// <summary>
    /// The caller at <paramref name="address"/> and the shows it may act for (every listed entry it matches); null when
    /// submit hosts are listed and it is none of them. Not to be asked when <see cref="Scoped"/> is false.
    /// </summary>
    public OpenCueCaller? Caller(IPAddress address)
    {
        var normalised = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        var shows = _hosts.Where(h => h.Networks.Any(n => n.Contains(normalised))).SelectMany(h => h.Shows).ToHashSet(StringComparer.Ordinal);
        return shows.Count == 0 ? null : new OpenCueCaller(normalised, shows);
    }

    /// <summary>The listed submit hosts as the start-up report names them: <c>10.20.0.0/24 for shows a, b; 10.30.0.7 for show c</c>.</summary>
    public string Describe() => string.Join("; ", _hosts.Select(h =>
        $"{string.Join(", ", h.Networks.Select(Describe))} for show{(h.Shows.Count == 1 ? "" : "s")} {string.Join(", ", h.Shows.Order(StringComparer.Ordinal))}"));

    /// <summary>Parses an address (<c>10.20.0.7</c>, <c>::1</c>) or a CIDR network (<c>10.20.0.0/24</c>).</summary>
    public static bool TryParseNetwork(string? text, out IPNetwork network)
    {
        network = default;
        var t = text?.Trim() ?? "";
        var slash = t.IndexOf('/', StringComparison.Ordinal);
        var address = slash < 0 ? t : t[..slash];
        // IPAddress.TryParse takes "10" for 0.0.0.10: an allowlist wants the address spelled out.
        var spelledOut = address.Contains(':', StringComparison.Ordinal) || address.Count(c => c == '.') == 3;
        if (!spelledOut)
        {
            return false;
        }

        if (!IPAddress.TryParse(address, out var single))
        {
            return false;
        }

        if (slash >= 0)
        {
            // 10.20.0.5/24 is refused, not read as 10.20.0.0/24: its writer may have meant the one host.
            return IPNetwork.TryParse(t, out network) && network.BaseAddress.Equals(single);
        }

        network = new IPNetwork(single, single.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        return true;
    }

    private static string Describe(IPNetwork network) =>
        network.PrefixLength == (network.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)
            ? network.BaseAddress.ToString()
            : network.ToString();

    private sealed record SubmitHost(IReadOnlyList<IPNetwork> Networks, IReadOnlySet<string> Shows);
}
