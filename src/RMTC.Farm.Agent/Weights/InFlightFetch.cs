using Microsoft.Win32.SafeHandles;

namespace RMTC.Farm.Agent.Weights;

/// <summary>
/// A fetch under way on this node, as its peer data plane relays it: the partial file's handle (read with positioned
/// reads, never moving the fetch's own position), how many bytes of it are written, and how it ended. Bytes relayed
/// before the digest is known are unverified, and so are the receiver's until they hash to the digest there: a fetch
/// whose bytes turn out wrong is discarded (<see cref="Generation"/> moves) and every relay of it is cut.
/// </summary>
public sealed class InFlightFetch(SafeFileHandle handle, long written)
{
    private readonly TaskCompletionSource<string?> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _written = written;
    private int _generation;

    /// <summary>The partial file; closed once the fetch ends (then read <see cref="Done"/>'s file instead).</summary>
    public SafeFileHandle Handle { get; } = handle;

    /// <summary>Bytes of the partial file written so far (visible to positioned reads).</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Moves each time the bytes so far are thrown away: what was read before is not the artifact.</summary>
    public int Generation => Volatile.Read(ref _generation);

    /// <summary>The cached file's path once the bytes hashed to the digest; null when the fetch failed.</summary>
    public Task<string?> Done => _done.Task;

    /// <summary>Completes at the next change (bytes written, discarded, or the end).</summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    /// <summary>More bytes are in the file: <paramref name="length"/> in all.</summary>
    public void Advanced(long length)
    {
        Interlocked.Exchange(ref _written, length);
        Signal();
    }

    /// <summary>Every byte so far was thrown away.</summary>
    public void Discarded()
    {
        Interlocked.Increment(ref _generation);
        Interlocked.Exchange(ref _written, 0);
        Signal();
    }

    /// <summary>The fetch ended: <paramref name="path"/> is the verified file, or null when it failed.</summary>
    public void Finished(string? path)
    {
        _done.TrySetResult(path);
        Signal();
    }

    private void Signal() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
