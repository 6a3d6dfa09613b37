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
}
