using System.Text.Json;
using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Planning;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// Shard plans over the assets a run keeps (after <c>exclude_assets</c> and held-out splits). Indices point into the
/// dataset's full sorted sample list, which is what agents read. The plan is stored by digest with the run, so a
/// restarted coordinator reads it back rather than recomputing it (by-label plans would need every label again).
/// </summary>
internal static class ShardPlans
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The plan for <paramref name="sharding"/>; by-label reads the kept samples' labels from <paramref name="datasetDirectory"/>.</summary>
    public static int[][] Build(IReadOnlyList<string> allPaths, IReadOnlyList<AssetEntry> kept, int shards, long seed, string sharding = ShardingStrategies.Iid, string? datasetDirectory = null)
    {
        var full = IndicesOf(allPaths, kept);
        var parts = sharding == ShardingStrategies.ByLabel
            ? ShardPlanner.PlanByLabel(SampleLabels.Read(datasetDirectory ?? throw new ArgumentNullException(nameof(datasetDirectory)), kept.Select(a => a.Path).ToArray()), shards, seed)
            : ShardPlanner.Plan(full.Length, shards, seed);
        return parts.Select(part => part.Select(i => full[i]).Order().ToArray()).ToArray();
    }

    /// <summary>Indices of <paramref name="assets"/> in the dataset's full sorted sample list.</summary>
    public static int[] IndicesOf(IReadOnlyList<string> allPaths, IReadOnlyList<AssetEntry> assets)
    {
        var index = new Dictionary<string, int>(allPaths.Count, StringComparer.Ordinal);
        for (var i = 0; i < allPaths.Count; i++)
        {
            index[allPaths[i]] = i;
        }

        return assets.Select(a => index.TryGetValue(a.Path, out var i)
            ? i
            : throw new InvalidOperationException($"asset {a.Path} is no longer in the dataset directory")).ToArray();
    }

    public static string ToJson(int[][] plan) => JsonSerializer.Serialize(plan, Json);

    public static int[][] FromJson(string json) => JsonSerializer.Deserialize<int[][]>(json, Json) ?? [];
}
