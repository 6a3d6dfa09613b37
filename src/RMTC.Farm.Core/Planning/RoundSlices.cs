namespace RMTC.Farm.Core.Planning;

/// <summary>
/// The part of a shard's samples each round trains on when one epoch is spread over several rounds
/// (<c>local.rounds_per_epoch</c>): the shard's samples in a shuffle seeded by (run seed, shard, epoch), cut into that
/// many equal parts, one part per round, so every sample is trained on exactly once per epoch and the shards merge
/// more often at the same number of epochs. With one round per epoch a round trains on the whole shard, as always.
/// </summary>
public static class RoundSlices
{
    /// <summary>
    /// The samples shard <paramref name="shard"/> trains on in <paramref name="round"/> (1-based) of a run seeded by
    /// <paramref name="runSeed"/>, given its whole part of the data, <paramref name="plan"/>.
    /// </summary>
    public static int[] For(int[] plan, long runSeed, int shard, int round, int roundsPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (roundsPerEpoch <= 1)
        {
            return plan;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(round, 1);
        var order = (int[])plan.Clone();
        SplitMix64.For(RunSeeds.RoundSlices(runSeed), shard, EpochOf(round, roundsPerEpoch)).Shuffle(order.AsSpan());
        var (start, end) = Bounds(plan.Length, round, roundsPerEpoch);
        return order[start..end];
    }

    /// <summary>How many samples a shard of <paramref name="planLength"/> trains on in <paramref name="round"/>.</summary>
    public static int Length(int planLength, int round, int roundsPerEpoch)
    {
        if (roundsPerEpoch <= 1)
        {
            return planLength;
        }

        var (start, end) = Bounds(planLength, round, roundsPerEpoch);
        return end - start;
    }

    /// <summary>The epoch (1-based) <paramref name="round"/> (1-based) belongs to.</summary>
    public static int EpochOf(int round, int roundsPerEpoch) => roundsPerEpoch <= 1 ? round : ((round - 1) / roundsPerEpoch) + 1;

    private static (int Start, int End) Bounds(int length, int round, int roundsPerEpoch)
    {
        var part = (round - 1) % roundsPerEpoch;
        return ((int)((long)length * part / roundsPerEpoch), (int)((long)length * (part + 1) / roundsPerEpoch));
    }
}
