using System.Text.Json;

namespace RMTC.Farm.Coordinator.Lineage;

/// <summary>One asset as the run saw it.</summary>
public sealed record AssetEntry(string Path, string Sha256);

/// <summary>The JSON list of a dataset's assets, stored by content so a manifest can name "the exact data" with one digest.</summary>
public static class AssetList
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string ToJson(IEnumerable<AssetEntry> assets) => JsonSerializer.Serialize(assets.ToArray(), Json);

    public static IReadOnlyList<AssetEntry> FromJson(string json) => JsonSerializer.Deserialize<AssetEntry[]>(json, Json) ?? [];
}
