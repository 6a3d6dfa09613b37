using System.Security.Cryptography;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// A put of content the store already holds (<see cref="IArtifactStore.BeginPut"/> with an expected digest that is
/// stored): the bytes are hashed and counted, never written, and the commit checks them against what was expected.
/// Content-addressed storage keeps one copy, so the stored one is the outcome either way; what this saves is a temp
/// file, a flush to disk and a rename per repeated upload (a retried result, or a shard whose result equals its input).
/// </summary>
internal sealed class StoredCopyWriter(string digest) : IArtifactWriter
{
    private readonly HashSink _sink = new();
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

    /// <summary>Write-only: every byte goes to sha256 and nowhere else.</summary>
    private sealed class HashSink : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Written;

        public override long Position
        {
            get => Written;
            set => throw new NotSupportedException("an artifact is written front to back");
        }

        public string Digest() => Convert.ToHexStringLower(_hash.GetCurrentHash());

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            Written += buffer.Length;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("an artifact writer is write-only");

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("an artifact is written front to back");

        public override void SetLength(long value) => throw new NotSupportedException("an artifact is written front to back");

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
