using System.Text;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>The common ways of putting and reading artifacts, built on <see cref="IArtifactStore"/>'s streams.</summary>
public static class ArtifactStoreExtensions
{
    /// <summary>Stores bytes already in memory (small documents, exports) and returns what was stored.</summary>
    public static StoredArtifact Put(this IArtifactStore store, ReadOnlySpan<byte> bytes, ArtifactKind kind)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var put = store.BeginPut(kind);
        put.Stream.Write(bytes);
        return put.Commit();
    }

    /// <summary>Stores a stream's remaining bytes, copied through without holding them whole, and returns what was stored.</summary>
    public static async Task<StoredArtifact> PutAsync(this IArtifactStore store, Stream content, ArtifactKind kind = ArtifactKind.Weights, string? expectedDigest = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(content);
        await using var put = store.BeginPut(kind);
        await content.CopyToAsync(put.Stream, 1 << 20, cancellationToken).ConfigureAwait(false);
        return await put.CommitAsync(expectedDigest, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores tensors as a safetensors artifact and returns what was stored.</summary>
    public static StoredArtifact PutWeights(this IArtifactStore store, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var put = store.BeginPut(ArtifactKind.Weights);
        Safetensors.Write(put.Stream, tensors, metadata);
        return put.Commit();
    }

    /// <summary>Stores a JSON document (e.g. a dataset's asset list) as UTF-8 and returns its digest.</summary>
    public static string PutJson(this IArtifactStore store, string json) =>
        store.Put(Encoding.UTF8.GetBytes(json), ArtifactKind.Json).Digest;

    /// <summary>A JSON document stored with <see cref="PutJson"/>, or null when absent.</summary>
    /// <exception cref="ArgumentException"><paramref name="digest"/> is not a sha256 digest.</exception>
    public static string? ReadJson(this IArtifactStore store, string digest)
    {
        ArgumentNullException.ThrowIfNull(store);
        Stream stream;
        try
        {
            stream = store.OpenRead(digest, ArtifactKind.Json);
        }
        catch (ArtifactNotFoundException)
        {
            return null;
        }

        using (stream)
        using (var reader = new StreamReader(stream, Encoding.UTF8))
        {
            return reader.ReadToEnd();
        }
    }

    /// <summary>A weights artifact loaded whole into memory.</summary>
    /// <exception cref="ArtifactNotFoundException">No such artifact is stored.</exception>
    /// <exception cref="SafetensorsFormatException">The stored bytes are not valid safetensors.</exception>
    public static (IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadWeights(this IArtifactStore store, string digest)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var stream = store.OpenRead(digest, ArtifactKind.Weights);
        return Safetensors.Read(stream);
    }

    /// <summary>The safetensors header of a weights artifact (names, dtypes, shapes), without reading its data.</summary>
    /// <exception cref="ArtifactNotFoundException">No such artifact is stored.</exception>
    /// <exception cref="SafetensorsFormatException">The stored bytes are not valid safetensors.</exception>
    public static SafetensorsHeader ReadWeightsHeader(this IArtifactStore store, string digest)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var stream = store.OpenRead(digest, ArtifactKind.Weights);
        return Safetensors.ReadHeader(stream, stream.Length);
    }
}
