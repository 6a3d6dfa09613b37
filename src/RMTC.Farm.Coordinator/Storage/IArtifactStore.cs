namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// The coordinator's content-addressed artifacts (weights, JSON documents, ONNX exports), named by the lowercase sha256
/// hex of their bytes. Artifacts are written once and never change, so any reader may cache them and anyone can
/// recompute a merge. Callers name artifacts by digest only: where and how they are kept is the store's business.
/// </summary>
public interface IArtifactStore
{
    /// <summary>Where the store keeps its artifacts, in words for operators' messages (not an address to open).</summary>
    string Location { get; }

    /// <summary>True when the artifact is stored; false also for a malformed digest (nothing can be stored under it).</summary>
    bool Exists(string digest, ArtifactKind kind = ArtifactKind.Weights);

    /// <summary>The artifact's length in bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="digest"/> is not a sha256 digest.</exception>
    /// <exception cref="ArtifactNotFoundException">No such artifact is stored.</exception>
    long SizeOf(string digest, ArtifactKind kind = ArtifactKind.Weights);

    /// <summary>
    /// A readable, seekable stream over the artifact, positioned at its start (the caller disposes it). It reads the
    /// stored bytes as they are: a caller that needs them verified hashes what it reads.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="digest"/> is not a sha256 digest.</exception>
    /// <exception cref="ArtifactNotFoundException">No such artifact is stored.</exception>
    Stream OpenRead(string digest, ArtifactKind kind = ArtifactKind.Weights);

    /// <summary>
    /// Starts storing an artifact whose digest is learnt as it is written: write to <see cref="IArtifactWriter.Stream"/>
    /// (hashed as it goes, never buffered whole), then <see cref="IArtifactWriter.Commit"/>. Nothing is visible before the
    /// commit; disposing an uncommitted writer discards what was written.
    /// </summary>
    /// <param name="kind">What the artifact is.</param>
    /// <param name="expectedDigest">
    /// The digest the caller expects (an upload's header says it): when that content is stored already, the bytes are
    /// only hashed and checked, not written again. The commit verifies them either way.
    /// </param>
    IArtifactWriter BeginPut(ArtifactKind kind = ArtifactKind.Weights, string? expectedDigest = null);
}
