namespace RMTC.Farm.Training.Loop;

/// <summary>
/// Decoded samples kept between a long-lived trainer's tasks (<c>rmtc trainer serve</c>), so a shard of a dataset this
/// trainer has read before starts without reading and decoding its files again. Bounded: it never holds more than
/// <see cref="CapacityBytes"/> of sample data, dropping the least recently used samples first. A sample is known by its
/// file's full path, length and last write time, so a file rewritten in place is read afresh. Thread-safe.
/// </summary>
public sealed class SampleCache
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _recent = new();
    private long _hits;
    private long _misses;

    /// <summary>A cache of at most <paramref name="capacityBytes"/> bytes of decoded samples (0: keeps nothing).</summary>
    public SampleCache(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        CapacityBytes = capacityBytes;
    }

    /// <summary>The most sample data the cache holds, in bytes.</summary>
    public long CapacityBytes { get; }

    /// <summary>Sample data held now, in bytes (never above <see cref="CapacityBytes"/>).</summary>
    public long Bytes { get; private set; }

    /// <summary>Samples held now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Samples found in the cache so far.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Samples read from their files so far (not held, or changed since).</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>The decoded sample of file <paramref name="path"/>, when held and the file has not changed since.</summary>
    public bool TryGet(string path, out CachedSample sample)
    {
        var key = KeyOf(path);
        lock (_gate)
        {
            if (key is not null && _entries.TryGetValue(key, out var node))
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                sample = node.Value.Sample;
                _hits++;
                return true;
            }

            _misses++;
        }

        sample = default;
        return false;
    }

    /// <summary>Keeps the decoded sample of file <paramref name="path"/>, dropping the least recently used ones to stay in bounds.</summary>
    public void Add(string path, CachedSample sample)
    {
        var bytes = sample.Bytes;
        if (bytes > CapacityBytes || KeyOf(path) is not { } key)
        {
            return;
        }

        lock (_gate)
        {
            if (_entries.Remove(key, out var old))
            {
                _recent.Remove(old);
                Bytes -= old.Value.Sample.Bytes;
            }

            while (Bytes + bytes > CapacityBytes && _recent.Last is { } last)
            {
                _recent.RemoveLast();
                _entries.Remove(last.Value.Key);
                Bytes -= last.Value.Sample.Bytes;
            }

            _entries[key] = _recent.AddFirst(new Entry(key, sample));
            Bytes += bytes;
        }
    }

    /// <summary>Path, length and last write time: a file rewritten in place is another sample. Null when the file is gone.</summary>
    private static string? KeyOf(string path)
    {
        var file = new FileInfo(path);
        return file.Exists ? $"{file.FullName}\n{file.Length}\n{file.LastWriteTimeUtc.Ticks}" : null;
    }

    private sealed record Entry(string Key, CachedSample Sample);
}

/// <summary>One decoded sample: its input, and its target image or its label.</summary>
/// <param name="Input">The input tensor's values, F32 [C,H,W].</param>
/// <param name="Target">The target tensor's values for image and render pairs; null for a labelled image.</param>
/// <param name="Label">The class index of a labelled image; 0 otherwise.</param>
public readonly record struct CachedSample(float[] Input, float[]? Target, long Label)
{
    /// <summary>The bytes it holds.</summary>
    public long Bytes => ((long)Input.Length + (Target?.Length ?? 0)) * sizeof(float) + sizeof(long);
}
