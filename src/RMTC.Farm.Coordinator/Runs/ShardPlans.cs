using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Core.Planning;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// Shard plans over the assets a run keeps (after <c>exclude_assets</c>). Indices point into the dataset's full
/// sorted sample list, which is what agents read; the same inputs give the same plan at submission and on recovery.
/// </summary>
internal static class ShardPlans
{
    public static int[][] Build(IReadOnlyList<string> allPaths, IReadOnlyList<AssetEntry> kept, int shards, long seed)
    {
        var index = new Dictionary<string, int>(allPaths.Count, StringComparer.Ordinal);
        for (var i = 0; i < allPaths.Count; i++)
        {
            index[allPaths[i]] = i;
        }

        var full = kept.Select(a => index.TryGetValue(a.Path, out var i)
            ? i
            : throw new InvalidOperationException($"asset {a.Path} is no longer in the dataset directory")).ToArray();
        return ShardPlanner.Plan(full.Length, shards, seed)
            .Select(part => part.Select(i => full[i]).Order().ToArray())
            .ToArray();
    }
}
