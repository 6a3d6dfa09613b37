using System.Text.Json.Serialization;

namespace RMTC.Farm.Protos.DataPlane;

/// <summary>
/// The HTTP data plane's protocol, shared by the coordinator (which serves it) and the agent (which speaks it), so both
/// ends read one definition. Artifacts: <c>GET|HEAD /artifacts/sha256/HEX[?kind=torchscript]</c> with <c>Range</c>.
/// Uploads: <c>PUT /artifacts/sha256/HEX</c> with <see cref="UploadHeader"/> (JSON), the bytes as the body, and for a
/// resumed piece <c>Content-Range: bytes FROM-LAST/TOTAL</c>; <c>HEAD</c> of the same address with the same header
/// answers <see cref="UploadOffsetHeader"/>, the bytes the coordinator holds of an interrupted upload.
/// </summary>
public static class DataPlaneWire
{
    /// <summary>The request header carrying <see cref="UploadMetadata"/> as JSON.</summary>
    public const string UploadHeader = "Rmtc-Upload";

    /// <summary>The response header naming how many bytes of an upload the coordinator holds (resume from there).</summary>
    public const string UploadOffsetHeader = "Upload-Offset";

    /// <summary>The path of an artifact (and of an upload of it).</summary>
    public static string ArtifactPath(string digest, bool torchScript = false) =>
        $"/artifacts/sha256/{digest}{(torchScript ? "?kind=torchscript" : "")}";
}

/// <summary>What an upload declares before its bytes, as the gRPC upload's header does (its fields, the same meaning).</summary>
public sealed record UploadMetadata
{
    /// <summary>The lease the result answers.</summary>
    [JsonPropertyName("lease_id")]
    public string LeaseId { get; init; } = "";

    /// <summary>That lease's epoch (fencing).</summary>
    [JsonPropertyName("lease_epoch")]
    public ulong LeaseEpoch { get; init; }

    /// <summary>The uploading agent.</summary>
    [JsonPropertyName("agent_id")]
    public string AgentId { get; init; } = "";

    /// <summary>Samples trained.</summary>
    [JsonPropertyName("samples")]
    public ulong Samples { get; init; }

    /// <summary>The last epoch's mean loss.</summary>
    [JsonPropertyName("final_loss")]
    public double FinalLoss { get; init; }

    /// <summary>Each local epoch's mean loss.</summary>
    [JsonPropertyName("epoch_losses")]
    public IReadOnlyList<double> EpochLosses { get; init; } = [];

    /// <summary>Seconds spent training.</summary>
    [JsonPropertyName("train_seconds")]
    public double TrainSeconds { get; init; }

    /// <summary>The device trained on.</summary>
    [JsonPropertyName("device")]
    public string Device { get; init; } = "";

    /// <summary>True for a preemption checkpoint rather than a result.</summary>
    [JsonPropertyName("checkpoint")]
    public bool Checkpoint { get; init; }

    /// <summary>The trainer's TorchSharp version (prepare tasks).</summary>
    [JsonPropertyName("torchsharp_version")]
    public string TorchSharpVersion { get; init; } = "";
}

/// <summary>The JSON body of the coordinator's answer to an upload, and of every refusal of the data plane.</summary>
/// <param name="Verdict">accepted, duplicate, stale, too-large, corrupt, invalid, rejected; empty for other refusals.</param>
/// <param name="Reason">Why it was refused, naming what is wrong; empty when accepted.</param>
/// <param name="Digest">The stored content's digest when accepted or duplicate.</param>
public sealed record DataPlaneAnswer(
    [property: JsonPropertyName("verdict")] string Verdict,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("digest")] string Digest)
{
    /// <summary>The lease was stale: the coordinator moved on, the result is dropped (not a failure).</summary>
    public const string Stale = "stale";

    /// <summary>Stored and recorded.</summary>
    public const string Accepted = "accepted";

    /// <summary>This exact result was accepted before.</summary>
    public const string Duplicate = "duplicate";
}
