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

    /// <summary>
    /// Agents one fetching agent relays to, at most: with no holder yet (a round's first leases), each lease names an agent
    /// still fetching, nearest the coordinator first, so a round's fan-out becomes a tree of this degree with one fetch
    /// from the coordinator at its root.
    /// </summary>
    public const int RelayFanOut = 3;

    /// <summary>Leases remembered until their agent reports them past fetching; the oldest go first beyond this.</summary>
    public const int PendingLeases = 16_384;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Peer> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Peer>> _holders = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Lease>> _fetching = new(StringComparer.Ordinal);
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
    /// is the one a peer is chosen for: the round's weights, or a prepare task's model file), or "" for the coordinator.
    /// A holder first (in session, serving, reachable; the one named least so far, so load spreads); else an agent still
    /// fetching it that relays as the bytes arrive (at most <see cref="RelayFanOut"/> receivers each, nearest the
    /// coordinator first: a tree, whose lease graph has no cycle since each names only agents sent the digest before it);
    /// none when the agent holds it itself. Remembers the lease to learn, from heartbeats, that its agent holds the inputs.
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
            var asking = Get(agentId);
            var lease = Remember(leaseId, asking, digests);
            if (lease is null || !options.Value.NamePeers)
            {
                return "";
            }

            if (_holders.TryGetValue(digests[0], out var holders) && holders.Contains(asking))
            {
                return "";
            }

            var chosen = ChooseHolder(holders, asking) ?? ChooseRelay(digests[0], asking);
            if (chosen is null)
            {
                // Fetched from the coordinator: the root of this digest's relay tree.
                AddFetching(digests[0], lease, depth: 0);
                return "";
            }

            chosen.Peer.Named++;
            if (chosen.Relay is { } upstream)
            {
                upstream.Relayed++;
            }

            AddFetching(digests[0], lease, depth: chosen.Relay is { } from ? from.Depth + 1 : 1);
            LogNamed(leaseId, agentId, chosen.Peer.Id, chosen.Peer.Address!, digests[0], chosen.Relay is null ? "holds it" : "is fetching it");
            return chosen.Peer.Address!;
        }
    }

    /// <summary>The holder named least so far that <paramref name="asking"/> can reach.</summary>
    private static Choice? ChooseHolder(List<Peer>? holders, Peer asking)
    {
        Peer? chosen = null;
        foreach (var peer in holders ?? [])
        {
            if (Reachable(peer, asking) && (chosen is null || peer.Named < chosen.Named || (peer.Named == chosen.Named && string.CompareOrdinal(peer.Id, chosen.Id) < 0)))
            {
                chosen = peer;
            }
        }

        return chosen is null ? null : new Choice(chosen, null);
    }

    /// <summary>An agent still fetching the digest with room for one more receiver, nearest the coordinator first.</summary>
    private Choice? ChooseRelay(string digest, Peer asking)
    {
        Lease? chosen = null;
        foreach (var lease in _fetching.TryGetValue(digest, out var fetching) ? fetching : [])
        {
            if (lease.Agent != asking && lease.Relayed < RelayFanOut && Reachable(lease.Agent, asking)
                && (chosen is null || (lease.Depth, lease.Relayed).CompareTo((chosen.Depth, chosen.Relayed)) < 0))
            {
                chosen = lease;
            }
        }

        return chosen is null ? null : new Choice(chosen.Agent, chosen);
    }

    /// <summary>In session, serving, and (for a loopback address, which reaches a peer only from its own host) on the asker's host.</summary>
    private static bool Reachable(Peer peer, Peer asking) =>
        peer != asking && peer.Online && peer.Address is not null && (!peer.Loopback || asking.FromLoopback);

    private void AddFetching(string digest, Lease lease, int depth)
    {
        lease.Depth = depth;
        lease.FetchingDigest = digest;
        if (!_fetching.TryGetValue(digest, out var list))
        {
            _fetching[digest] = list = [];
        }

        list.Add(lease);
    }

    private void StopFetching(Lease lease)
    {
        if (lease.FetchingDigest is { } digest && _fetching.TryGetValue(digest, out var list) && list.Remove(lease) && list.Count == 0)
        {
            _fetching.Remove(digest);
        }

        lease.FetchingDigest = null;
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
            if (!_leases.TryGetValue(leaseId, out var lease) || lease.Agent.Id != agentId)
            {
                return;
            }

            _leases.Remove(leaseId);
            StopFetching(lease);
            foreach (var digest in lease.Digests)
            {
                Holds(lease.Agent, digest);
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

    /// <summary>Remembers a lease sent; null when it was sent before (a resend after a reconnect names no new peer).</summary>
    private Lease? Remember(string leaseId, Peer agent, string[] digests)
    {
        var lease = new Lease(leaseId, agent, digests);
        if (!_leases.TryAdd(leaseId, lease))
        {
            return null;
        }

        _leaseOrder.Enqueue(leaseId);
        // Leases that never got past fetching (failed, cancelled) are forgotten in the order they came.
        while (_leaseOrder.Count > PendingLeases)
        {
            if (_leases.Remove(_leaseOrder.Dequeue(), out var old))
            {
                StopFetching(old);
            }
        }

        return lease;
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

    private sealed record Choice(Peer Peer, Lease? Relay);

    /// <summary>A lease sent and not yet reported past fetching: its agent is fetching its inputs, and may relay them.</summary>
    private sealed class Lease(string id, Peer agent, string[] digests)
    {
        public string Id { get; } = id;

        public Peer Agent { get; } = agent;

        public string[] Digests { get; } = digests;

        /// <summary>The digest this lease's agent is listed as fetching (and relaying), or null.</summary>
        public string? FetchingDigest { get; set; }

        /// <summary>Hops from the coordinator: 0 fetches from it, 1 from an agent that holds or fetches from it, …</summary>
        public int Depth { get; set; }

        /// <summary>Receivers named this agent while it fetches.</summary>
        public int Relayed { get; set; }
    }

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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lease {LeaseId} for {AgentId}: peer {PeerId} at {Address} {How} ({Digest})")]
    private partial void LogNamed(string leaseId, string agentId, string peerId, string address, string digest, string how);
}
