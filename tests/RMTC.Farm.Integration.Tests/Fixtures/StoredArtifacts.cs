using RMTC.Farm.Coordinator.Storage;

namespace RMTC.Farm.Integration.Tests.Fixtures;

/// <summary>What tests read back from the coordinator's artifact store, through its interface like any other caller.</summary>
public static class StoredArtifacts
{
    /// <summary>An artifact's bytes, whole (test artifacts are small).</summary>
    public static byte[] ReadAllBytes(this IArtifactStore store, string digest, ArtifactKind kind = ArtifactKind.Weights)
    {
        using var stream = store.OpenRead(digest, kind);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// The directory the file store keeps artifacts in under <paramref name="dataDirectory"/>: the on-disk layout existing
    /// farms hold, which tests pin (and use to lose a file on purpose) but no coordinator code builds.
    /// </summary>
    public static string FileStoreDirectory(string dataDirectory) => Path.Combine(dataDirectory, "artifacts", "sha256");
}
