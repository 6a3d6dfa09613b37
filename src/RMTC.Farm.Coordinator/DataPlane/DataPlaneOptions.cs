using System.ComponentModel.DataAnnotations;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>
/// The HTTP data plane for artifacts, bound from <c>Coordinator:DataPlane</c>: weights, model files and checkpoints
/// fetched with ranged GETs and results uploaded with resumable PUTs, beside the gRPC control plane (README, Weights
/// data plane). Agents learn its port when they register.
/// </summary>
public sealed class DataPlaneOptions
{
    public const string Section = "Coordinator:DataPlane";

    /// <summary>
    /// Port of the data plane (HTTP/1.1, on <c>Coordinator:ListenAddress</c>, with the gRPC listener's TLS when
    /// <c>Coordinator:Tls</c> is on); 0 picks a free one (agents are told which), -1 turns it off and agents move
    /// weights over gRPC.
    /// </summary>
    [Range(-1, 65535)]
    public int Port { get; set; }

    /// <summary>How long the bytes of a cut upload are kept for the agent to resume before they are discarded.</summary>
    [Range(1, 86_400)]
    public int ResumeWindowSeconds { get; set; } = 300;

    /// <summary>
    /// Bytes of each buffer block Kestrel receives into, for every listener of the coordinator (it has one pool): larger
    /// blocks take an upload in fewer, larger receives. 0 keeps Kestrel's own pool (4 KiB blocks); otherwise 4096 to
    /// 1048576. Changed on restart.
    /// </summary>
    [Range(0, 1024 * 1024)]
    public int ReceiveBlockBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Name, in each assignment, a peer agent that holds its weights (agents that serve their cache, <c>Agent:PeerDataPlane</c>),
    /// so a round's fan-out need not all come from here; false names none and every fetch comes from the coordinator.
    /// </summary>
    public bool NamePeers { get; set; } = true;
}
