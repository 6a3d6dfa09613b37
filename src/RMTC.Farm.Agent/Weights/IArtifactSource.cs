using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Weights;

/// <summary>
/// Somewhere an artifact's bytes can be read from by digest, from any offset: a peer agent that holds them, the
/// coordinator's data plane, its gRPC service. Sources are stateless: <see cref="WeightsCache"/> keeps what arrived,
/// resumes a cut transfer from where it stopped (with the same source or the next one) and checks the digest of what
/// each source completed before anything is kept, so no source is trusted with the bytes' integrity.
/// </summary>
public interface IArtifactSource
{
    /// <summary>The source in words, for logs and failures (e.g. "data plane http://10.0.0.5:7461").</summary>
    string Name { get; }

    /// <summary>
    /// Writes the artifact's bytes from <paramref name="offset"/> to its end into <paramref name="destination"/>.
    /// Throws <see cref="ArtifactMissingException"/> when the source says it has no such artifact; any other exception
    /// is a failed transfer (what reached <paramref name="destination"/> stays, and is resumed from).
    /// </summary>
    Task CopyToAsync(string digest, ArtifactType type, long offset, Stream destination, CancellationToken cancellationToken);

    /// <summary>Tries of this source, each resuming where the last stopped, before the next is asked (a peer gets one: the coordinator is the sure way).</summary>
    int Tries => WeightsCache.TriesPerSource;

    /// <summary>True for a peer agent: its bytes are counted apart from the coordinator's.</summary>
    bool IsPeer => false;
}

/// <summary>The source answered that it holds no artifact with this digest (not a failed transfer: asking again is useless).</summary>
public sealed class ArtifactMissingException(string message) : IOException(message);
