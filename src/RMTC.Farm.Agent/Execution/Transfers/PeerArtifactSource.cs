using RMTC.Farm.Agent.Weights;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution.Transfers;

/// <summary>
/// A peer agent's cache, as the coordinator named it in an assignment: asked once, first, and given up at its first
/// failure (down, silent past <c>Agent:PeerDataPlane:TimeoutMs</c>, without the artifact) so the coordinator serves the
/// rest. Its bytes are hashed as they arrive and kept only when they hash to the digest (<see cref="WeightsCache"/>).
/// </summary>
public sealed class PeerArtifactSource(DataPlaneClient peer) : IArtifactSource
{
    /// <inheritdoc/>
    public string Name => peer.Name;

    /// <inheritdoc/>
    public int Tries => 1;

    /// <inheritdoc/>
    public bool IsPeer => true;

    /// <inheritdoc/>
    public async Task CopyToAsync(string digest, ArtifactType type, long offset, Stream destination, CancellationToken cancellationToken)
    {
        try
        {
            await peer.CopyToAsync(digest, type, offset, destination, cancellationToken);
        }
        catch (ArtifactMissingException e)
        {
            // A peer without it says nothing of whether the artifact exists: the coordinator decides that.
            throw new IOException($"the peer does not hold it ({e.Message})", e);
        }
    }
}
