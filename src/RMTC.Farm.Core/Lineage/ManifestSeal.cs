using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RMTC.Farm.Core.Lineage;

/// <summary>
/// The seal of an ended run: the digest of its manifest (without the seal) and the head of its event chain at
/// sealing. The chain's last entry, <c>sealed</c>, carries the same two values, so the manifest and the log vouch
/// for each other: edit either and verification fails.
/// </summary>
public sealed class ManifestSeal
{
    public DateTimeOffset SealedAt { get; set; }
    /// <summary>sha256 over the canonical JSON of the manifest with <c>seal</c> left out.</summary>
    public string ManifestDigest { get; set; } = "";
    /// <summary>Hash of the last event before the <c>sealed</c> event.</summary>
    public string ChainHead { get; set; } = "";
    /// <summary>Events before the <c>sealed</c> event.</summary>
    public long Events { get; set; }

    /// <summary>The digest a manifest is sealed under: canonical JSON (sorted keys), seal excluded.</summary>
    public static string DigestOf(RunManifest manifest) => DigestOf(manifest.ToJson());

    /// <summary>
    /// Whether <paramref name="manifest"/> is the content sealed under <paramref name="digest"/>. Manifests sealed before
    /// 64-bit integers were written as strings were sealed over their number form; the same content in either form
    /// matches, any other content matches neither.
    /// </summary>
    public static bool Matches(RunManifest manifest, string digest) =>
        DigestOf(manifest) == digest || DigestOf(JsonSerializer.Serialize(manifest, NumberForm)) == digest;

    /// <summary>The manifest's options as they were before <see cref="Json.JsonIntegers"/>: 64-bit integers as JSON numbers.</summary>
    private static readonly JsonSerializerOptions NumberForm = WithoutIntegerConverters(RunManifest.JsonOptions);

    private static JsonSerializerOptions WithoutIntegerConverters(JsonSerializerOptions options)
    {
        var copy = new JsonSerializerOptions(options);
        foreach (var c in copy.Converters.Where(c => c is Json.Int64AsStringConverter or Json.UInt64AsStringConverter).ToList())
        {
            copy.Converters.Remove(c);
        }

        return copy;
    }

    private static string DigestOf(string json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        node.Remove("seal");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(LineageEvent.Canonical(node))));
    }
}
