namespace RMTC.Farm.Coordinator.Storage;

/// <summary>The bytes written to an <see cref="IArtifactWriter"/> are not what its caller expected; nothing was stored.</summary>
public sealed class ArtifactMismatchException(string? expectedDigest, long? expectedLength, string actualDigest, long actualLength)
    : IOException(
        $"expected {(expectedLength is { } n ? $"{n} bytes" : "bytes")}{(expectedDigest is { } d ? $" with sha256 {d}" : "")}, received {actualLength} bytes hashing to {actualDigest}")
{
    /// <summary>The digest the caller expected, when it named one.</summary>
    public string? ExpectedDigest { get; } = expectedDigest;

    /// <summary>The length the caller expected, when it named one.</summary>
    public long? ExpectedLength { get; } = expectedLength;

    /// <summary>The digest of the bytes written.</summary>
    public string ActualDigest { get; } = actualDigest;

    /// <summary>How many bytes were written.</summary>
    public long ActualLength { get; } = actualLength;
}
