using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// Content-addressed weights: <c>&lt;data dir&gt;/artifacts/sha256/&lt;hex&gt;.safetensors</c>. Files are written once
/// (temp file + rename) and never changed, so any node can read them and anyone can recompute a merge.
/// </summary>
public sealed class ArtifactStore
{
    private readonly string _root;
    private readonly string _temp;

    public ArtifactStore(IOptions<CoordinatorOptions> options)
    {
        _root = Path.Combine(Path.GetFullPath(options.Value.DataDirectory), "artifacts", "sha256");
        _temp = Path.Combine(Path.GetFullPath(options.Value.DataDirectory), "artifacts", "tmp");
        Directory.CreateDirectory(_root);
        Directory.CreateDirectory(_temp);
    }

    /// <summary>The directory holding the artifacts.</summary>
    public string Root => _root;

    /// <summary>Path of the artifact with this digest (it may not exist).</summary>
    public string PathOf(string digest)
    {
        if (!Sha256Digest.IsValid(digest))
        {
            throw new ArgumentException($"'{digest}' is not a sha256 digest (64 lowercase hex characters)", nameof(digest));
        }

        return Path.Combine(_root, digest + ".safetensors");
    }

    public bool Exists(string digest) => Sha256Digest.IsValid(digest) && File.Exists(PathOf(digest));

    /// <summary>A fresh path for an upload in progress, on the same file system as the store so the final move is a rename.</summary>
    public string NewTempPath() => Path.Combine(_temp, Guid.NewGuid().ToString("N") + ".part");

    /// <summary>Moves a verified temp file into the store under its digest (keeps the existing copy if already there).</summary>
    public string Adopt(string tempPath, string digest)
    {
        var target = PathOf(digest);
        if (File.Exists(target))
        {
            File.Delete(tempPath);
        }
        else
        {
            File.Move(tempPath, target);
        }

        return target;
    }

    /// <summary>Writes tensors as a new artifact and returns its digest.</summary>
    public string Write(IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var temp = NewTempPath();
        var digest = Safetensors.WriteFile(temp, tensors, metadata);
        Adopt(temp, digest);
        return digest;
    }

    /// <summary>Stores a JSON document (e.g. a dataset's asset list) by content and returns its digest.</summary>
    public string WriteJson(string json)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(json);
        var digest = Sha256Digest.OfBytes(bytes);
        var target = Path.Combine(_root, digest + ".json");
        if (!File.Exists(target))
        {
            var temp = NewTempPath();
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, target, overwrite: true);
        }

        return digest;
    }

    /// <summary>
    /// Stores a file of another format (e.g. an ONNX export) by content as <c>sha256/&lt;hex&gt;&lt;extension&gt;</c> and
    /// returns its digest.
    /// </summary>
    public string WriteBlob(ReadOnlySpan<byte> bytes, string extension)
    {
        var digest = Sha256Digest.OfBytes(bytes);
        var target = BlobPath(digest, extension);
        if (!File.Exists(target))
        {
            var temp = NewTempPath();
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, target, overwrite: true);
        }

        return digest;
    }

    /// <summary>Path of a file stored with <see cref="WriteBlob"/> (it may not exist).</summary>
    public string BlobPath(string digest, string extension) =>
        Sha256Digest.IsValid(digest) && extension is ['.', ..] && extension.Skip(1).All(char.IsAsciiLetterOrDigit)
            ? Path.Combine(_root, digest + extension)
            : throw new ArgumentException($"'{digest}' / '{extension}' is not a sha256 digest and a file extension like .onnx");

    /// <summary>A JSON document stored with <see cref="WriteJson"/>, or null when absent.</summary>
    public string? ReadJson(string digest)
    {
        var path = Path.Combine(_root, (Sha256Digest.IsValid(digest) ? digest : throw new ArgumentException($"'{digest}' is not a sha256 digest", nameof(digest))) + ".json");
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }

    /// <summary>
    /// Streams an upload to a temp file while hashing it (and feeding <paramref name="check"/>, when given, while the
    /// bytes are in cache); returns the temp path, digest and size.
    /// </summary>
    public async Task<(string TempPath, string Digest, long Bytes)> ReceiveAsync(IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, long maxBytes, CancellationToken cancellationToken, SafetensorsFiniteCheck? check = null)
    {
        var temp = NewTempPath();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await foreach (var chunk in chunks.WithCancellation(cancellationToken))
                {
                    total += chunk.Length;
                    if (total > maxBytes)
                    {
                        throw new InvalidDataException($"upload is larger than the {maxBytes} bytes its header declared");
                    }

                    hash.AppendData(chunk.Span);
                    check?.Append(chunk.Span);
                    await file.WriteAsync(chunk, cancellationToken);
                }
            }

            return (temp, Convert.ToHexStringLower(hash.GetHashAndReset()), total);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // A leftover temp file is harmless; the store never reads tmp/.
        }
    }
}
