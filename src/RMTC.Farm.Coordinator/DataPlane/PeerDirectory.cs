using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>
/// Which agents serve their weights cache to peers, where, and which digests each holds, so an assignment can name a
/// peer to fetch its inputs from instead of the coordinator (README, Weights data plane: peer fetch). Fed at the wire
/// edge: an agent's address when it registers, its online state with its session, and what it holds from the leases it
/// was sent and its heartbeats (a lease reported past fetching means its inputs are on that node). Nothing here is
/// trusted for integrity: the fetching agent checks the digest and falls back to the coordinator, so a stale entry
/// (a wiped cache, a peer gone down) costs one refused try, never wrong bytes.
/// </summary>
public sealed partial class PeerDirectory(IOptions<DataPlaneOptions> options, ILogger<PeerDirectory> log)
{
    /// <summary>Digests remembered per agent, most recent first; older ones are forgotten (the agent may still hold them).</summary>
    public const int DigestsPerAgent = 32;

    /// <summary>Leases remembered until their agent reports them past fetching; the oldest go first beyond this.</summary>
    public const int PendingLeases = 16_384;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Peer> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Peer>> _holders = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Agent, string[] Digests)> _leases = new(StringComparer.Ordinal);
    private readonly Queue<string> _leaseOrder = new();

    /// <summary>
    /// Notes an agent's registration: <paramref name="advertised"/> is its <c>peer_data_plane</c> (empty: it serves none),
    /// <paramref name="from"/> the address the registration came from (it replaces a wildcard host). Returns the
    /// address peers will be sent to, or null when the agent serves none (or advertised something unusable, logged).
    /// </summary>
    public string? Register(string agentId, string advertised, IPAddress? from)
    {
        var source = from is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : from;
        var address = Resolve(advertised, source, out var problem);
        if (problem is not null)
        {
            LogUnusable(agentId, advertised, problem);
        }

        lock (_gate)
        {
            var peer = Get(agentId);
            peer.Address = address;
            peer.Loopback = address is not null && IsLoopbackHost(new Uri(address).Host);
            peer.FromLoopback = source is not null && IPAddress.IsLoopback(source);
        }

        return address;
    }

    /// <summary>
    /// A session of the agent started (true) or ended (false): only agents in session are named. Counted, because a
    /// reconnecting agent's new session may start before its old one has ended.
    /// </summary>
    public void Online(string agentId, bool online)
    {
        lock (_gate)
        {
            var peer = Get(agentId);
            peer.Sessions = Math.Max(0, peer.Sessions + (online ? 1 : -1));
        }
    }

    /// <summary>
    /// The peer to name in a lease sent to <paramref name="agentId"/> whose inputs are <paramref name="inputs"/> (the first
    /// is the one a peer is chosen for: the round's weights, or a prepare task's model file), or "" for none: no other
    /// agent in session that serves its cache is known to hold it, or the agent holds it itself. Among holders, the one
    /// named least so far, so a round's fan-out spreads over them. Remembers the lease to learn, from heartbeats, that
    /// its agent holds the inputs too.
    /// </summary>
    public string Name(string agentId, string leaseId, IReadOnlyList<string> inputs)
    {
        var digests = inputs.Where(d => d.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        if (digests.Length == 0)
        {
            return "";
        }

        lock (_gate)
        {
            Remember(leaseId, agentId, digests);
            if (!options.Value.NamePeers || !_holders.TryGetValue(digests[0], out var holders))
            {
                return "";
            }

            var asking = Get(agentId);
            if (holders.Contains(asking))
            {
                return "";
            }

            Peer? chosen = null;
            foreach (var peer in holders)
            {
                // A loopback address reaches a peer only from its own host: never send another host there.
                if (peer.Online && peer.Address is not null && (!peer.Loopback || asking.FromLoopback)
                    && (chosen is null || peer.Named < chosen.Named || (peer.Named == chosen.Named && string.CompareOrdinal(peer.Id, chosen.Id) < 0)))
                {
                    chosen = peer;
                }
            }

            if (chosen is null)
            {
                return "";
            }

            chosen.Named++;
            LogNamed(leaseId, agentId, chosen.Id, chosen.Address!, digests[0]);
            return chosen.Address!;
        }
    }

    /// <summary>
    /// What a heartbeat says of a lease: a phase past fetching (training, uploading, …) means the agent holds the lease's
    /// inputs, checked against their digests, in its cache.
    /// </summary>
    public void Reported(string agentId, string leaseId, string phase)
    {
        if (phase is "" or "starting" or "fetching")
        {
            return;
        }

        lock (_gate)
        {
            if (!_leases.Remove(leaseId, out var lease) || lease.Agent != agentId)
            {
                return;
            }

            var peer = Get(agentId);
            foreach (var digest in lease.Digests)
            {
                Holds(peer, digest);
            }
        }
    }

    /// <summary>Agents known to hold <paramref name="digest"/> (tests, diagnostics).</summary>
    public IReadOnlyList<string> Holders(string digest)
    {
        lock (_gate)
        {
            return _holders.TryGetValue(digest, out var holders) ? holders.Select(p => p.Id).ToList() : [];
        }
    }

    private void Holds(Peer peer, string digest)
    {
        if (peer.Digests.Remove(digest))
        {
            peer.Digests.AddFirst(digest);
            return;
        }

        peer.Digests.AddFirst(digest);
        if (!_holders.TryGetValue(digest, out var holders))
        {
            _holders[digest] = holders = [];
        }

        holders.Add(peer);
        if (peer.Digests.Count > DigestsPerAgent)
        {
            var oldest = peer.Digests.Last!.Value;
            peer.Digests.RemoveLast();
            if (_holders.TryGetValue(oldest, out var left) && left.Remove(peer) && left.Count == 0)
            {
                _holders.Remove(oldest);
            }
        }
    }

    private void Remember(string leaseId, string agentId, string[] digests)
    {
        if (_leases.TryAdd(leaseId, (agentId, digests)))
        {
            _leaseOrder.Enqueue(leaseId);
        }

        // Leases that never got past fetching (failed, cancelled) are forgotten in the order they came.
        while (_leaseOrder.Count > PendingLeases)
        {
            _leases.Remove(_leaseOrder.Dequeue());
        }
    }

    private Peer Get(string agentId)
    {
        if (!_agents.TryGetValue(agentId, out var peer))
        {
            _agents[agentId] = peer = new Peer(agentId);
        }

        return peer;
    }

    /// <summary>The advertised address with a wildcard host replaced by the registration's source; null with the problem when unusable.</summary>
    internal static string? Resolve(string advertised, IPAddress? from, out string? problem)
    {
        problem = null;
        if (advertised.Length == 0)
        {
            return null;
        }

        if (!Uri.TryCreate(advertised, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Port <= 0)
        {
            problem = "not an http(s)://HOST:PORT address";
            return null;
        }

        var host = uri.Host;
        if (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)))
        {
            if (from is null)
            {
                problem = "a wildcard host, and the registration's source address is unknown";
                return null;
            }

            host = from.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{from}]" : from.ToString();
        }

        return $"{uri.Scheme}://{host}:{uri.Port}";
    }

    private static bool IsLoopbackHost(string host) =>
        host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    private sealed class Peer(string id)
    {
        public string Id { get; } = id;

        public string? Address { get; set; }

        public bool Loopback { get; set; }

        public bool FromLoopback { get; set; }

        public int Sessions { get; set; }

        public bool Online => Sessions > 0;

        public long Named { get; set; }

        public LinkedList<string> Digests { get; } = new();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent {AgentId} advertised the peer data plane '{Advertised}', which cannot be used ({Problem}); it is named to no peer")]
    private partial void LogUnusable(string agentId, string advertised, string problem);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lease {LeaseId} for {AgentId}: peer {PeerId} at {Address} holds {Digest}")]
    private partial void LogNamed(string leaseId, string agentId, string peerId, string address, string digest);
}
