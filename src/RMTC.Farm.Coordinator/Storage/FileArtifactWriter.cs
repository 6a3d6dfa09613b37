using System.Security.Cryptography;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// A put into <see cref="FileArtifactStore"/>: bytes go to a temp file beside the store (same file system, so the final
/// move is a rename) while they are hashed; the commit flushes them to disk, verifies them and renames the file into place.
/// </summary>
internal sealed class FileArtifactWriter : IArtifactWriter
{
    private readonly string _tempPath;
    private readonly Func<string, string> _target;
    private readonly FileStream _file;
    private readonly HashingStream _stream;
    private bool _done;

    public FileArtifactWriter(string tempPath, Func<string, string> target)
    {
        _tempPath = tempPath;
        _target = target;
        _file = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        _stream = new HashingStream(_file);
    }

    public Stream Stream => _stream;

    public long Length => _stream.Written;

    public StoredArtifact Commit(string? expectedDigest = null, long? expectedLength = null)
    {
        ThrowIfDone();
        _file.Flush(flushToDisk: true);
        return Finish(expectedDigest, expectedLength);
    }

    public async Task<StoredArtifact> CommitAsync(string? expectedDigest = null, long? expectedLength = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDone();
        await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
        // FlushAsync leaves the bytes in the page cache; the digest recorded after this commit must name durable bytes.
        await Task.Run(() => _file.Flush(flushToDisk: true), cancellationToken).ConfigureAwait(false);
        return Finish(expectedDigest, expectedLength);
    }

    private StoredArtifact Finish(string? expectedDigest, long? expectedLength)
    {
        _done = true;
        var digest = _stream.Digest();
        var length = _stream.Written;
        _file.Dispose();
        if ((expectedDigest is not null && expectedDigest != digest) || (expectedLength is { } n && n != length))
        {
            Discard();
            throw new ArtifactMismatchException(expectedDigest, expectedLength, digest, length);
        }

        var target = _target(digest);
        try
        {
            // Never over an existing copy: readers may hold it open, and it is these bytes anyway.
            File.Move(_tempPath, target, overwrite: false);
        }
        catch (IOException) when (File.Exists(target))
        {
            // Stored before, or by a concurrent put of the same content a moment ago.
            Discard();
        }
        catch
        {
            Discard();
            throw;
        }

        return new StoredArtifact(digest, length);
    }

    public void Dispose()
    {
        if (!_done)
        {
            _done = true;
            _file.Dispose();
            Discard();
        }

        _stream.DisposeHash();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_done)
        {
            _done = true;
            await _file.DisposeAsync().ConfigureAwait(false);
            Discard();
        }

        _stream.DisposeHash();
    }

    private void ThrowIfDone() => ObjectDisposedException.ThrowIf(_done, this);

    private void Discard()
    {
        try
        {
            File.Delete(_tempPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover temp file is harmless: the store never reads tmp/.
        }
    }

    /// <summary>Write-only pass-through that feeds every byte to sha256 on its way to the file.</summary>
    private sealed class HashingStream(FileStream file) : Stream
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

        public void DisposeHash() => _hash.Dispose();

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            file.Write(buffer);
            Written += buffer.Length;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _hash.AppendData(buffer.Span);
            await file.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            Written += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => file.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => file.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("an artifact writer is write-only");

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("an artifact is written front to back");

        public override void SetLength(long value) => throw new NotSupportedException("an artifact is written front to back");
    }
}
