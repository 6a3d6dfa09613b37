using System.Security.Cryptography;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// Write-only, forward-only stream that feeds every byte to sha256 and then, when given one, to <paramref name="target"/>:
/// how an artifact writer learns the digest of what it stores (or, with no target, of what it only verifies).
/// </summary>
internal sealed class HashingWriteStream(Stream? target) : Stream
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

    /// <summary>The sha256 (lowercase hex) of everything written so far.</summary>
    public string Digest() => Convert.ToHexStringLower(_hash.GetCurrentHash());

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        target?.Write(buffer);
        Written += buffer.Length;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _hash.AppendData(buffer.Span);
        if (target is not null)
        {
            await target.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        Written += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => target?.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => target?.FlushAsync(cancellationToken) ?? Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("an artifact writer is write-only");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("an artifact is written front to back");

    public override void SetLength(long value) => throw new NotSupportedException("an artifact is written front to back");

    /// <summary>Releases the hash only: the target belongs to the writer that gave it.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
