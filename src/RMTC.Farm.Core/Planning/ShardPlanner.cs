namespace RMTC.Farm.Core.Planning;

/// <summary>Partitions a dataset's samples into balanced shards.</summary>
public static class ShardPlanner
{
    /// <summary>
    /// Seeded shuffle of 0..sampleCount-1, split into <paramref name="shards"/> parts whose sizes differ by at most one;
    /// each part sorted ascending. Same inputs, same plan, on every machine.
    /// </summary>
    /// <remarks>
    /// Fisher–Yates driven by SplitMix64 (our own, stable across .NET versions) with unbiased bounded draws;
    /// the first sampleCount % shards parts get the extra sample.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">sampleCount &lt; 0 or shards &lt; 1.</exception>
    /// <exception cref="ArgumentException">shards &gt; sampleCount.</exception>
    public static int[][] Plan(int sampleCount, int shards, long seed)
    {
        if (sampleCount < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleCount), sampleCount, "the sample count cannot be negative");
        }

        if (shards < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(shards), shards, "at least one shard is needed");
        }

        if (shards > sampleCount)
        {
            throw new ArgumentException(
                sampleCount == 0
                    ? $"cannot split 0 samples into {shards} shards: the dataset is empty"
                    : $"cannot split {sampleCount} samples into {shards} shards: use at most {sampleCount} shards",
                nameof(shards));
        }

        var order = new int[sampleCount];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        var rng = new SplitMix64(unchecked((ulong)seed));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)rng.NextBelow((ulong)i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        var plan = new int[shards][];
        int baseSize = sampleCount / shards;
        int extra = sampleCount % shards;
        int start = 0;
        for (int s = 0; s < shards; s++)
        {
            int size = baseSize + (s < extra ? 1 : 0);
            var part = order.AsSpan(start, size).ToArray();
            Array.Sort(part);
            plan[s] = part;
            start += size;
        }

        return plan;
    }

    /// <summary>
    /// The classic non-IID partition: samples sorted by label (ties in a seeded shuffle), then cut into
    /// <paramref name="shards"/> contiguous parts whose sizes differ by at most one, so each shard holds few classes.
    /// Each part sorted ascending. Same inputs, same plan.
    /// </summary>
    /// <exception cref="ArgumentException">shards &lt; 1 or &gt; the sample count.</exception>
    public static int[][] PlanByLabel(IReadOnlyList<long> labels, int shards, long seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var rng = new SplitMix64(unchecked((ulong)seed));
        var order = Enumerable.Range(0, labels.Count).ToArray();
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)rng.NextBelow((ulong)i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        var sorted = order.OrderBy(i => labels[i]).ToArray(); // stable: ties keep the shuffled order
        var plan = Plan(labels.Count, shards, seed); // validates the counts and gives the part sizes
        var start = 0;
        for (int s = 0; s < shards; s++)
        {
            var size = plan[s].Length;
            var part = sorted.AsSpan(start, size).ToArray();
            Array.Sort(part);
            plan[s] = part;
            start += size;
        }

        return plan;
    }
}
