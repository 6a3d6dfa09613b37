using System.Text.Json;
using RMTC.Farm.Core.Digests;

namespace RMTC.Farm.Core.Lineage;

/// <summary>
/// Something made from a run's model after the run ended: an export to another format (a variant of the model, same
/// provenance) or an inference with it. Kept beside the sealed manifest, never in it, so the seal stays valid; each
/// record names the digest of the run's previous record, so the list is a hash chain of its own.
/// </summary>
public sealed class DerivationRecord
{
    public string Schema { get; set; } = "rmtc.derivation/v1";

    /// <summary><see cref="DerivationKinds.Export"/> or <see cref="DerivationKinds.Inference"/>.</summary>
    public string Kind { get; set; } = "";

    public string RunId { get; set; } = "";

    public DateTimeOffset At { get; set; }

    /// <summary>Who asked for it (user, or user@host).</summary>
    public string By { get; set; } = "";

    /// <summary>sha256 of the run's model (safetensors) the derivation starts from.</summary>
    public string ModelDigest { get; set; } = "";

    /// <summary>Format of <see cref="VariantDigest"/> (<c>onnx</c>).</summary>
    public string Format { get; set; } = "";

    /// <summary>sha256 of the exported file (export), or of the exported file that ran (inference).</summary>
    public string VariantDigest { get; set; } = "";

    /// <summary>Inference: sha256 of each input, in order.</summary>
    public List<string> Inputs { get; set; } = new();

    /// <summary>Inference: sha256 of each output, in order.</summary>
    public List<string> Outputs { get; set; } = new();

    /// <summary>Facts worth keeping (opset, recipe, execution provider, host).</summary>
    public Dictionary<string, string> Details { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Digest of the run's previous derivation record; null for its first.</summary>
    public string? Previous { get; set; }

    // One line (a record is one line of a log), otherwise the manifest's conventions.
    private static readonly JsonSerializerOptions Json = new(RunManifest.JsonOptions) { WriteIndented = false };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static DerivationRecord FromJson(string json) =>
        JsonSerializer.Deserialize<DerivationRecord>(json, Json) ?? throw new JsonException("a derivation record must be a JSON object");

    /// <summary>sha256 of <see cref="ToJson"/>: the record's identity.</summary>
    public string Digest() => Sha256Digest.OfBytes(System.Text.Encoding.UTF8.GetBytes(ToJson()));
}

/// <summary>Kinds of <see cref="DerivationRecord"/>.</summary>
public static class DerivationKinds
{
    /// <summary>The model written in another format (same provenance).</summary>
    public const string Export = "export";

    /// <summary>The model (or one of its exports) run on inputs.</summary>
    public const string Inference = "inference";
}
