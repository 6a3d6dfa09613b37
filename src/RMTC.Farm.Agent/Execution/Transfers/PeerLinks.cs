using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Session;
using RMTC.Farm.Agent.Weights;

namespace RMTC.Farm.Agent.Execution.Transfers;

/// <summary>
/// Clients of the peer agents the coordinator names (one per address, so connections are reused across shards), with the
/// agent's own credentials and <c>Agent:PeerDataPlane:TimeoutMs</c>. Refuses, before connecting, a peer that would take
/// the farm token in clear over the network on a TLS farm.
/// </summary>
public sealed partial class PeerLinks(IOptions<AgentOptions> options, ILogger<PeerLinks> log) : IDisposable
{
    /// <summary>Peers kept at once; past this the clients are dropped and made afresh (a farm's peers change slowly).</summary>
    private const int MostPeers = 64;

    private readonly ConcurrentDictionary<string, DataPlaneClient> _clients = new(StringComparer.Ordinal);

    /// <summary>The source for the peer at <paramref name="address"/> (<c>Assignment.peer_data_plane</c>), or null when none is named, peer fetches are off, or the address is refused.</summary>
    public IArtifactSource? For(string address, string leaseId)
    {
        var o = options.Value;
        if (address.Length == 0 || !o.PeerDataPlane.FetchFromPeers)
        {
            return null;
        }

        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            LogPeerRefused(leaseId, address, "not an http(s) address");
            return null;
        }

        if (uri.Scheme == Uri.UriSchemeHttp && PeerCacheServer.IsTlsFarm(o) && !(IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip)))
        {
            LogPeerRefused(leaseId, address, "plain HTTP beyond loopback on a TLS farm would send the farm token in clear");
            return null;
        }

        if (_clients.Count >= MostPeers && !_clients.ContainsKey(address))
        {
            // Clients of gone peers are left to the garbage collector with whatever transfer they still carry.
            _clients.Clear();
        }

        var client = _clients.GetOrAdd(address, a => new DataPlaneClient(new Uri(a), AgentChannel.Credentials(o), TimeSpan.FromMilliseconds(o.PeerDataPlane.TimeoutMs), "peer agent"));
        return new PeerArtifactSource(client);
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: peer {Address} refused ({Reason}); fetching from the coordinator")]
    private partial void LogPeerRefused(string leaseId, string address, string reason);
}
