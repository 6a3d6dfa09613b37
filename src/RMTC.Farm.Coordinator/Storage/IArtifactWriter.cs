namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// One artifact being stored (<see cref="IArtifactStore.BeginPut"/>). Its bytes go to <see cref="Stream"/>; a commit
/// checks them against what the caller expected and makes them visible under their digest in one step. Disposing the
/// writer without a successful commit discards the bytes, so a failed or abandoned write leaves nothing behind.
/// </summary>
public interface IArtifactWriter : IDisposable, IAsyncDisposable
{
    /// <summary>Write-only, forward-only: the artifact's bytes, hashed as they are written.</summary>
    Stream Stream { get; }

    /// <summary>Bytes written so far.</summary>
    long Length { get; }

    /// <summary>
    /// Makes the bytes durable and visible under their digest. When the artifact is already stored (the same content
    /// put before, or by a concurrent writer), the stored copy is kept and this one discarded: the outcome is the same.
    /// </summary>
    /// <param name="expectedDigest">When given, the bytes must hash to it.</param>
    /// <param name="expectedLength">When given, exactly this many bytes must have been written.</param>
    /// <returns>The digest and length of what was stored.</returns>
    /// <exception cref="ArtifactMismatchException">The bytes are not what was expected; nothing is stored.</exception>
    /// <exception cref="InvalidOperationException">The writer was already committed or disposed.</exception>
    StoredArtifact Commit(string? expectedDigest = null, long? expectedLength = null);

    /// <summary>Same as <see cref="Commit"/>, flushing asynchronously.</summary>
    Task<StoredArtifact> CommitAsync(string? expectedDigest = null, long? expectedLength = null, CancellationToken cancellationToken = default);
}
