using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Core.Digests;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// The artifact store on a file system: <c>&lt;data dir&gt;/artifacts/sha256/&lt;hex&gt;.safetensors</c> (and <c>.json</c>,
/// <c>.onnx</c> for the other kinds), written through <c>&lt;data dir&gt;/artifacts/tmp/</c> and renamed into place, so
/// a reader never sees a partial file and a crash leaves at most a stray temp file (the store never reads tmp/).
/// </summary>
/// <remarks>The layout is what farms already hold on disk: it must not change.</remarks>
public sealed class FileArtifactStore : IArtifactStore
{
    private readonly string _root;
    private readonly string _temp;

    /// <summary>Opens (creating when absent) the store under <see cref="CoordinatorOptions.DataDirectory"/>.</summary>
    public FileArtifactStore(IOptions<CoordinatorOptions> options)
    {
        var artifacts = Path.Combine(Path.GetFullPath(options.Value.DataDirectory), "artifacts");
        _root = Path.Combine(artifacts, "sha256");
        _temp = Path.Combine(artifacts, "tmp");
        Directory.CreateDirectory(_root);
        Directory.CreateDirectory(_temp);
    }

    /// <inheritdoc />
    public string Location => _root;

    /// <inheritdoc />
    public bool Exists(string digest, ArtifactKind kind = ArtifactKind.Weights) =>
        Sha256Digest.IsValid(digest) && File.Exists(FileOf(digest, kind));

    /// <inheritdoc />
    public long SizeOf(string digest, ArtifactKind kind = ArtifactKind.Weights)
    {
        var file = new FileInfo(FileOf(Checked(digest), kind));
        return file.Exists ? file.Length : throw new ArtifactNotFoundException(digest, kind, _root);
    }

    /// <inheritdoc />
    /// <remarks>
    /// A <see cref="FileStream"/> without a buffer of its own (readers here move megabytes at a time), so a merge can
    /// map the file through its handle instead of copying it.
    /// </remarks>
    public Stream OpenRead(string digest, ArtifactKind kind = ArtifactKind.Weights)
    {
        try
        {
            return new FileStream(FileOf(Checked(digest), kind), FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArtifactNotFoundException(digest, kind, _root);
        }
    }

    /// <inheritdoc />
    public IArtifactWriter BeginPut(ArtifactKind kind = ArtifactKind.Weights, string? expectedDigest = null) =>
        expectedDigest is not null && Exists(expectedDigest, kind)
            ? new StoredCopyWriter(expectedDigest)
            : new FileArtifactWriter(Path.Combine(_temp, Guid.NewGuid().ToString("N") + ".part"), digest => FileOf(digest, kind));

    private string FileOf(string digest, ArtifactKind kind) => Path.Combine(_root, digest + Extension(kind));

    private static string Extension(ArtifactKind kind) => kind switch
    {
        ArtifactKind.Weights => ".safetensors",
        ArtifactKind.Json => ".json",
        ArtifactKind.Onnx => ".onnx",
        ArtifactKind.TorchScript => ".pt",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not an artifact kind"),
    };

    private static string Checked(string digest) => Sha256Digest.IsValid(digest)
        ? digest
        : throw new ArgumentException($"'{digest}' is not a sha256 digest (64 lowercase hex characters, without a sha256: prefix)", nameof(digest));
}
