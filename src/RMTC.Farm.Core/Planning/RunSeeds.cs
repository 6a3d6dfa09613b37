namespace RMTC.Farm.Core.Planning;

/// <summary>The seeds a run derives from its spec's seed, shared by the farm and <c>rmtc train --local</c> so both start alike.</summary>
public static class RunSeeds
{
    /// <summary>Seed of the recipe's initial weights.</summary>
    public static long Init(long runSeed) => SeedMixer.Derive(runSeed, 0x1417);

    /// <summary>Seed of the shard plan (the shuffle that partitions samples).</summary>
    public static long ShardPlan(long runSeed) => SeedMixer.Derive(runSeed, 0x5A4D);

    /// <summary>Seed of a local (one-process) run's epoch shuffles.</summary>
    public static long Local(long runSeed) => SeedMixer.Derive(runSeed, 0x10CA1);

    /// <summary>Seed of the per-epoch shuffle that cuts a shard into rounds (<see cref="RoundSlices"/>).</summary>
    public static long RoundSlices(long runSeed) => SeedMixer.Derive(runSeed, 0x511CE);
}
