namespace RMTC.Farm.Coordinator.Storage;

/// <summary>An artifact the caller named by digest is not in the store.</summary>
public sealed class ArtifactNotFoundException(string digest, ArtifactKind kind, string location)
    : FileNotFoundException($"no {kind.ToString().ToLowerInvariant()} artifact sha256:{digest} in the artifact store ({location})")
{
    /// <summary>The digest that was asked for.</summary>
    public string Digest { get; } = digest;

    /// <summary>The kind that was asked for.</summary>
    public ArtifactKind Kind { get; } = kind;
}
