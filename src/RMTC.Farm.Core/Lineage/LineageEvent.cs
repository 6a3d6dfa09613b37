using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RMTC.Farm.Core.Lineage;

/// <summary>
/// One entry of a run's hash-chained event log. <see cref="Hash"/> covers the sequence number, time, kind, data and
/// the previous entry's hash, so editing, inserting or deleting any entry breaks every hash after it.
/// </summary>
public sealed record LineageEvent
{
    /// <summary>1-based position in the run's log.</summary>
    public required long Seq { get; init; }
    public required DateTimeOffset At { get; init; }
    /// <summary>submitted, shard-leased, shard-completed, result-refused, lease-expired, round-merged, succeeded, sealed, ...</summary>
    public required string Kind { get; init; }
    /// <summary>Facts of the event (digests, agent, shard, epoch...), as a JSON object.</summary>
    public required JsonObject Data { get; init; }
    /// <summary>Hash of the previous entry (64 zeros for the first).</summary>
    public required string PrevHash { get; init; }
    public required string Hash { get; init; }

    /// <summary>The hash before the first entry.</summary>
    public static readonly string Genesis = new('0', 64);

    /// <summary>Creates the entry that follows <paramref name="previous"/> (null for the first).</summary>
    public static LineageEvent Next(LineageEvent? previous, DateTimeOffset at, string kind, JsonObject data)
    {
        var seq = (previous?.Seq ?? 0) + 1;
        var prev = previous?.Hash ?? Genesis;
        // Round-trip the time through its wire form so the hash survives serialisation exactly.
        var stamp = DateTimeOffset.Parse(at.ToUniversalTime().ToString("O"), System.Globalization.CultureInfo.InvariantCulture);
        return new LineageEvent { Seq = seq, At = stamp, Kind = kind, Data = data, PrevHash = prev, Hash = ComputeHash(seq, stamp, kind, data, prev) };
    }

    /// <summary>sha256 hex over a canonical rendering of the entry's fields.</summary>
    public static string ComputeHash(long seq, DateTimeOffset at, string kind, JsonObject data, string prevHash)
    {
        var canonical = new StringBuilder()
            .Append(seq).Append('\n')
            .Append(at.ToUniversalTime().ToString("O", System.Globalization.CultureInfo.InvariantCulture)).Append('\n')
            .Append(kind).Append('\n')
            .Append(Canonical(data)).Append('\n')
            .Append(prevHash)
            .ToString();
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>JSON with object keys sorted (ordinal), no whitespace: the same facts always hash the same.</summary>
    public static string Canonical(JsonNode? node)
    {
        var sb = new StringBuilder();
        Write(node, sb);
        return sb.ToString();
    }

    private static void Write(JsonNode? node, StringBuilder sb)
    {
        switch (node)
        {
            case null:
                sb.Append("null");
                break;
            case JsonObject o:
                sb.Append('{');
                var first = true;
                foreach (var (key, value) in o.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }

                    first = false;
                    sb.Append(JsonSerializer.Serialize(key)).Append(':');
                    Write(value, sb);
                }

                sb.Append('}');
                break;
            case JsonArray a:
                sb.Append('[');
                for (var i = 0; i < a.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(',');
                    }

                    Write(a[i], sb);
                }

                sb.Append(']');
                break;
            default:
                sb.Append(node.ToJsonString());
                break;
        }
    }

    private static readonly JsonSerializerOptions Compact = new(RunManifest.JsonOptions) { WriteIndented = false };

    /// <summary>One line of JSON (how stores keep it).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Compact);

    public static LineageEvent FromJson(string json) =>
        JsonSerializer.Deserialize<LineageEvent>(json, RunManifest.JsonOptions) ?? throw new JsonException("empty lineage event");
}
