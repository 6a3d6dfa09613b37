using System.Security.Cryptography;

namespace RMTC.Farm.Agent.Weights;

/// <summary>
/// Write-only stream that appends to a file and feeds the same bytes to sha256: how a fetch learns the digest of what it
/// keeps without reading it back. <see cref="Position"/> is the file's length so far, where a resumed transfer starts.
/// </summary>
internal sealed class HashingFileSink(FileStream file, IncrementalHash hash, InFlightFetch? relay = null) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => file.Position;

    public override long Position
    {
        get => file.Position;
        set => throw new NotSupportedException("a fetch appends");
    }

    /// <summary>The sha256 of the bytes so far, lowercase hex.</summary>
    public string CurrentDigest() => Convert.ToHexStringLower(hash.GetCurrentHash());

    /// <summary>Throws away every byte so far (bytes of the wrong digest): the next source starts from byte 0.</summary>
    public void Discard()
    {
        file.SetLength(0);
        file.Position = 0;
        hash.GetHashAndReset();
        relay?.Discarded();
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        hash.AppendData(buffer);
        file.Write(buffer);
        if (relay is not null)
        {
            // A peer may be relaying this fetch: the bytes must be in the file, not the stream's buffer, before it is told.
            file.Flush();
            relay.Advanced(file.Position);
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        hash.AppendData(buffer.Span);
        await file.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (relay is not null)
        {
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            relay.Advanced(file.Position);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => file.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => file.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("write-only");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("a fetch appends");

    public override void SetLength(long value) => throw new NotSupportedException("a fetch appends");
}
