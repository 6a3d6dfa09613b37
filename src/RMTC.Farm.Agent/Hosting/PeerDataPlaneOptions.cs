using System.Net;

namespace RMTC.Farm.Agent.Hosting;

/// <summary>
/// The agent's own read-only data plane, bound from <c>Agent:PeerDataPlane</c>: it serves its weights cache to peer agents
/// (ranged GET/HEAD of <c>sha256/HEX</c>, as the coordinator's data plane does) so that a round's fan-out need not all
/// cross the coordinator's network, and says how long this agent waits on a peer the coordinator names. Validated on start.
/// </summary>
public sealed class PeerDataPlaneOptions
{
    /// <summary>The section, under the agent's own.</summary>
    public const string Section = "Agent:PeerDataPlane";

    /// <summary>
    /// Port the cache is served on: 0 picks a free one (the coordinator is told which when the agent registers), -1
    /// serves nothing (and the coordinator names this agent to no one).
    /// </summary>
    public int Port { get; set; }

    /// <summary>
    /// Address the listener binds. The default, loopback, shares with agents on the same host only (the coordinator
    /// names a loopback peer only to agents that reach it from loopback too); a farm sets the node's farm address, or
    /// <c>0.0.0.0</c> (then peers reach it at the address its registration came from).
    /// </summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// The host peers should dial, when it is not the bound address nor the address the coordinator sees the agent at
    /// (a NAT, a second interface). Unset: the bound address, or for a wildcard, the registration's source address.
    /// </summary>
    public string? AdvertiseHost { get; set; }

    /// <summary>
    /// How long a fetch from a peer may go without a byte (connecting included) before the peer is given up and the
    /// coordinator asked instead.
    /// </summary>
    public int TimeoutMs { get; set; } = 5000;

    /// <summary>False: never fetch from a peer, even when the coordinator names one (serving is <see cref="Port"/>'s).</summary>
    public bool FetchFromPeers { get; set; } = true;

    /// <summary>True when the cache is served.</summary>
    public bool Serves => Port >= 0;

    /// <summary>What is wrong with these settings, each naming the setting and the fix; empty when nothing is.</summary>
    public IEnumerable<string> Problems()
    {
        if (Port is < -1 or > 65535)
        {
            yield return $"{Section}:Port is {Port}: use a port from 1 to 65535, 0 for a free one, or -1 to serve the weights cache to no peer";
        }

        if (Serves && !IPAddress.TryParse(ListenAddress, out _))
        {
            yield return $"{Section}:ListenAddress '{ListenAddress}' is not an IP address: use the node's farm address, 0.0.0.0 for every interface, or 127.0.0.1 for agents on this host only";
        }

        if (AdvertiseHost is { Length: > 0 } host && Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            yield return $"{Section}:AdvertiseHost '{host}' is not a host name or IP address peers can dial";
        }

        if (TimeoutMs is < 100 or > 600_000)
        {
            yield return $"{Section}:TimeoutMs is {TimeoutMs}: use 100 to 600000 milliseconds (how long a silent peer is waited on before the coordinator is asked)";
        }
    }
}
