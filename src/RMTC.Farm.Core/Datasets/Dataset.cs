namespace RMTC.Farm.Core.Datasets;

/// <summary>One asset (sample file) of a dataset: its path relative to the dataset directory and its content digest.</summary>
public sealed record DatasetAsset(string RelativePath, string Sha256);

/// <summary>
/// A dataset on disk: a directory holding <c>dataset.yaml</c> and <c>samples/*.safetensors</c> (one sample per file).
/// </summary>
public sealed class Dataset
{
    /// <summary>Absolute path of the dataset directory.</summary>
    public required string Directory { get; init; }
    public required DatasetDescriptor Descriptor { get; init; }
    /// <summary>Sample files, sorted by ordinal relative path; a shard plan indexes into this list.</summary>
    public required IReadOnlyList<DatasetAsset> Samples { get; init; }
    /// <summary>sha256 over the sorted asset digests (each as 64 hex chars + '\n'): a location-independent identity.</summary>
    public required string Digest { get; init; }

    /// <summary>Opens and validates a dataset directory, hashing every asset. Throws <see cref="DatasetException"/>.</summary>
    public static Dataset Open(string directory) => throw new NotImplementedException();

    /// <summary>Reads only <c>dataset.yaml</c>. Throws <see cref="DatasetException"/>.</summary>
    public static DatasetDescriptor ReadDescriptor(string directory) => throw new NotImplementedException();

    /// <summary>Lists sample files (sorted) without hashing them.</summary>
    public static IReadOnlyList<string> ListSamples(string directory) => throw new NotImplementedException();
}
