namespace RMTC.Farm.Core.Planning;

/// <summary>Partitions a dataset's samples into balanced shards.</summary>
public static class ShardPlanner
{
    /// <summary>
    /// Seeded shuffle of 0..sampleCount-1, split into <paramref name="shards"/> parts whose sizes differ by at most one;
    /// each part sorted ascending. Same inputs, same plan, on every machine.
    /// </summary>
    public static int[][] Plan(int sampleCount, int shards, long seed) => throw new NotImplementedException();
}
