namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// A put of content the store already holds (<see cref="IArtifactStore.BeginPut"/> with an expected digest that is
/// stored): the bytes are hashed and counted, never written, and the commit checks them against what was expected.
/// Content-addressed storage keeps one copy, so the stored one is the outcome either way; what this saves is a temp
/// file, a flush to disk and a rename per repeated upload (a retried result, or a shard whose result equals its input).
/// </summary>
internal sealed class StoredCopyWriter(string digest) : IArtifactWriter
{
    private readonly HashingWriteStream _sink = new(null);
    private bool _done;

    public Stream Stream => _sink;

    public long Length => _sink.Written;

    public StoredArtifact Commit(string? expectedDigest = null, long? expectedLength = null)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        _done = true;
        var actual = _sink.Digest();
        var length = _sink.Written;
        if (actual != digest || (expectedDigest is not null && expectedDigest != actual) || (expectedLength is { } n && n != length))
        {
            throw new ArtifactMismatchException(expectedDigest ?? digest, expectedLength, actual, length);
        }

        return new StoredArtifact(actual, length);
    }

    public Task<StoredArtifact> CommitAsync(string? expectedDigest = null, long? expectedLength = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(Commit(expectedDigest, expectedLength));

    public void Dispose()
    {
        _done = true;
        _sink.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
