namespace RMTC.Farm.Core.Merging;

/// <summary>
/// Feeds a round's results into a <see cref="FedAvgAccumulator"/> in shard order, whatever order they arrive in.
/// </summary>
/// <remarks>
/// Float32 addition is not associative: folding the same results in another order gives other bits. Results arrive in
/// whatever order the agents finish, so folding on arrival made two runs of the same spec differ from round 2 on, and a
/// run recovered after a restart differ from one that never stopped. Here a result that arrives ahead of a lower shard
/// waits (only its digest is held: the bytes are already in the artifact store) and is folded as soon as every lower
/// shard that will be merged has been; at the round's close whatever still waits is folded in ascending shard order
/// (shards the round closes without leave gaps). The average then depends only on which results were merged.
/// Not thread-safe: callers serialise it as they serialise the accumulator.
/// </remarks>
public sealed class ShardOrderedFold
{
    private readonly SortedDictionary<int, (string Digest, double Weight)> _waiting = new();
    private int _next;

    /// <summary>Results accepted but not yet folded, because a lower shard has not been.</summary>
    public int Waiting => _waiting.Count;

    /// <summary>Forgets every waiting result and starts again from shard 0 (a new round, or a sum rebuilt from scratch).</summary>
    public void Reset()
    {
        _waiting.Clear();
        _next = 0;
    }

    /// <summary>
    /// Takes the checked result of <paramref name="shard"/> and folds every result that is now next in order.
    /// </summary>
    /// <param name="shard">The shard's index in the round (0-based); each at most once per round.</param>
    /// <param name="digest">The stored result, opened with <paramref name="open"/> when its turn comes.</param>
    /// <param name="weight">Its merge weight (the shard's planned sample count).</param>
    /// <param name="accumulator">The round's sum.</param>
    /// <param name="open">Opens a stored result for reading by digest.</param>
    /// <returns>How many results were folded by this call (0 when the result waits for a lower shard).</returns>
    /// <exception cref="ArgumentException"><paramref name="shard"/> was already offered or folded this round.</exception>
    public int Offer(int shard, string digest, double weight, FedAvgAccumulator accumulator, Func<string, Stream> open)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentNullException.ThrowIfNull(accumulator);
        ArgumentNullException.ThrowIfNull(open);
        if (shard < _next || !_waiting.TryAdd(shard, (digest, weight)))
        {
            throw new ArgumentException($"shard {shard} was already merged this round", nameof(shard));
        }

        var folded = 0;
        while (_waiting.Remove(_next, out var ready))
        {
            Fold(ready, accumulator, open);
            _next++;
            folded++;
        }

        return folded;
    }

    /// <summary>Folds every waiting result in ascending shard order, past any gaps: the round is closing.</summary>
    /// <returns>How many were folded.</returns>
    public int Flush(FedAvgAccumulator accumulator, Func<string, Stream> open)
    {
        ArgumentNullException.ThrowIfNull(accumulator);
        ArgumentNullException.ThrowIfNull(open);
        var folded = 0;
        foreach (var (shard, ready) in _waiting)
        {
            Fold(ready, accumulator, open);
            _next = shard + 1;
            folded++;
        }

        _waiting.Clear();
        return folded;
    }

    private static void Fold((string Digest, double Weight) result, FedAvgAccumulator accumulator, Func<string, Stream> open)
    {
        using var stream = open(result.Digest);
        // Every result offered was checked when it arrived (finite values, and the template's names, dtypes and shapes).
        accumulator.AddPrechecked(stream, result.Weight);
    }
}
