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
    private readonly HashingWriteStream _stream;
    private bool _done;

    public FileArtifactWriter(string tempPath, Func<string, string> target)
    {
        _tempPath = tempPath;
        _target = target;
        _file = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        _stream = new HashingWriteStream(_file);
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

        _stream.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_done)
        {
            _done = true;
            await _file.DisposeAsync().ConfigureAwait(false);
            Discard();
        }

        _stream.Dispose();
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
}
