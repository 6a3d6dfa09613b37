namespace RMTC.Farm.Agent.Weights;

/// <summary>
/// What this agent's fetches and its peer data plane moved since it started, by where the bytes came from or went:
/// the agent's <c>/metrics</c> shows them (counters), so a farm sees how much of a round's fan-out peers carried.
/// </summary>
public sealed class TransferCounters
{
    private long _fromPeers;
    private long _fromCoordinator;
    private long _peerRefusals;
    private long _servedToPeers;

    /// <summary>Bytes fetched from peer agents (wrong ones included: what crossed the network).</summary>
    public long FromPeers => Interlocked.Read(ref _fromPeers);

    /// <summary>Bytes fetched from the coordinator (data plane or gRPC).</summary>
    public long FromCoordinator => Interlocked.Read(ref _fromCoordinator);

    /// <summary>Peers given up: down, silent past the timeout, without the artifact, or serving bytes of another digest.</summary>
    public long PeerRefusals => Interlocked.Read(ref _peerRefusals);

    /// <summary>Bytes this agent's cache served to peers.</summary>
    public long ServedToPeers => Interlocked.Read(ref _servedToPeers);

    /// <summary>Counts <paramref name="bytes"/> received from a peer or from the coordinator.</summary>
    public void Fetched(bool fromPeer, long bytes)
    {
        if (bytes > 0)
        {
            Interlocked.Add(ref fromPeer ? ref _fromPeers : ref _fromCoordinator, bytes);
        }
    }

    /// <summary>Counts a peer given up.</summary>
    public void PeerRefused() => Interlocked.Increment(ref _peerRefusals);

    /// <summary>Counts <paramref name="bytes"/> served to a peer.</summary>
    public void Served(long bytes) => Interlocked.Add(ref _servedToPeers, bytes);
}
