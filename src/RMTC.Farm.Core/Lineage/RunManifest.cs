using System.Text.Json;
using System.Text.Json.Serialization;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Core.Lineage;

/// <summary>
/// The lineage record of one run (<c>run.json</c>): what went in (spec, dataset, code, seeds), who ran what
/// (every shard attempt), and what came out (each round's merged digest, the final model). Field names are a
/// stable, documented contract (README, "The run manifest").
/// </summary>
public sealed class RunManifest
{
    /// <summary>Format identifier of this document.</summary>
    public string Schema { get; set; } = "rmtc.run/v1";
    public string RunId { get; set; } = "";
    public string Name { get; set; } = "";
    /// <summary>queued, running, succeeded, failed, cancelled.</summary>
    public string State { get; set; } = RunStates.Queued;
    public string SubmittedBy { get; set; } = "";
    public DateTimeOffset SubmittedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? Error { get; set; }
    public JobSpec? Spec { get; set; }
    public DatasetRecord Dataset { get; set; } = new();
    /// <summary>
    /// The licences, owners, consent and most restrictive rights of everything the model was trained from (the dataset
    /// and each asset override), as checked at submission. Null in manifests written before closures were recorded.
    /// </summary>
    public LicenceClosure? LicenceClosure { get; set; }
    public string Recipe { get; set; } = "";
    public CodeRecord Code { get; set; } = new();
    public SeedRecord Seeds { get; set; } = new();
    /// <summary>Digest of the recipe's seeded initial weights: round 1's input.</summary>
    public string InitialWeightsDigest { get; set; } = "";
    /// <summary>
    /// <see cref="Weights.TensorsDigest"/> of the initial weights: equal for equal recipe, data shape and seed, whereas the
    /// file digest also covers metadata naming the run. Null in manifests written before tensors digests were recorded.
    /// </summary>
    public string? InitialWeightsTensorsDigest { get; set; }
    public List<RoundRecord> Rounds { get; set; } = new();
    /// <summary>The last round's merged weights, once the run succeeded.</summary>
    public string? FinalModelDigest { get; set; }
    /// <summary>
    /// <see cref="Weights.TensorsDigest"/> of the final model: names, dtypes, shapes and bytes only. A rerun of the same
    /// spec, seed and data that trains the same weights has the same tensors digest (the file digest differs: its
    /// metadata names the run).
    /// </summary>
    public string? FinalModelTensorsDigest { get; set; }
    /// <summary>Set when the run ended: ties this document to the run's event chain.</summary>
    public ManifestSeal? Seal { get; set; }
    /// <summary>How samples were dealt to shards and the exact plan; null in manifests written before plans were recorded.</summary>
    public ShardPlanRecord? ShardPlan { get; set; }
    /// <summary>The held-out split the global model is evaluated on after every round; null when none.</summary>
    public EvaluationRecord? Evaluation { get; set; }
    /// <summary>
    /// The run's preparation and evaluations, leased to agents like shards, in the order they were queued; null in
    /// manifests written before they left the coordinator (those runs prepared and evaluated in the coordinator).
    /// </summary>
    public List<TaskRecord>? Tasks { get; set; }
    /// <summary>Job controls changed after submission (OpenCue's <c>setPriority</c>, <c>setMaxRetries</c>); null when none was.</summary>
    public RunControls? Controls { get; set; }
    /// <summary>Wranglers' comments on the run (OpenCue's <c>addComment</c>), oldest first; null when none.</summary>
    public List<RunComment>? Comments { get; set; }

    /// <summary>Options used for every manifest written or read.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // run.json is read by people: keep "R&D" and "O'Brien" as written (it is never embedded in HTML).
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        // Seeds, epochs and counts as strings of digits, so JavaScript readers (the Explorer) get every digit; numbers still read.
        Converters = { new Json.Int64AsStringConverter(), new Json.UInt64AsStringConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static RunManifest FromJson(string json) =>
        JsonSerializer.Deserialize<RunManifest>(json, JsonOptions) ?? throw new JsonException("empty run manifest");
}

/// <summary>Run states as written in manifests.</summary>
public static class RunStates
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsFinal(string state) => state is Succeeded or Failed or Cancelled;
}

/// <summary>The dataset a run trained on, identified by content.</summary>
public sealed class DatasetRecord
{
    public string Name { get; set; } = "";
    public string Version { get; set; } = "";
    public string Licence { get; set; } = "";
    public string Owner { get; set; } = "";
    public string Consent { get; set; } = "";
    /// <summary>The dataset-level rights as evaluated: <c>cawg.*</c> labels, canonical values, constraint_info included.</summary>
    public Dictionary<string, RightsAssertion> Rights { get; set; } = new();
    /// <summary>sha256 over the sorted asset digests.</summary>
    public string Digest { get; set; } = "";
    public string Path { get; set; } = "";
    public int Samples { get; set; }
    /// <summary>Digest of the JSON list of every asset (path and sha256) in the artifact store: what "the exact data" was.</summary>
    public string? AssetsDigest { get; set; }
    /// <summary>Held-out splits of the dataset (never trained on); null when it has none.</summary>
    public List<SplitRecord>? HeldOut { get; set; }
    /// <summary>Training assets left out because their bytes equal a held-out asset's; null when none.</summary>
    public int? DroppedDuplicates { get; set; }
    /// <summary>For a render-pairs dataset: the EXR channels and patching its samples were cut with; null otherwise.</summary>
    public RenderRecord? Render { get; set; }
}

/// <summary>How a render-pairs dataset's patches were cut (the <c>render:</c> section of its <c>dataset.yaml</c>, less the frame list).</summary>
public sealed class RenderRecord
{
    /// <summary>EXR channel names of each sample's input, in tensor order.</summary>
    public List<string> Input { get; set; } = new();
    /// <summary>EXR channel names of each sample's target, in tensor order.</summary>
    public List<string> Target { get; set; } = new();
    public int Patch { get; set; }
    public int Stride { get; set; }
    /// <summary>folders, frame, scene or none.</summary>
    public string SplitBy { get; set; } = "";
    /// <summary>Source frame pairs in the dataset (each a noisy and a clean EXR, both assets).</summary>
    public int Frames { get; set; }
}

/// <summary>The software that produced the run.</summary>
public sealed class CodeRecord
{
    public string RmtcVersion { get; set; } = "";
    public string Runtime { get; set; } = "";
    public string Os { get; set; } = "";
    public string TorchSharpVersion { get; set; } = "";
    /// <summary>
    /// sha256 of the TorchScript file the run trained (a spec's <c>model:</c> block), as stored in the artifact store: the
    /// run's own code beside rmtc's version. Null for a built-in recipe, and in manifests written before model files.
    /// </summary>
    public string? ModelDigest { get; set; }
    /// <summary>Size in bytes of the model file; null with <see cref="ModelDigest"/>.</summary>
    public long? ModelBytes { get; set; }
}

/// <summary>Every seed that shaped the run.</summary>
public sealed class SeedRecord
{
    /// <summary>The spec's seed.</summary>
    public long Run { get; set; }
    /// <summary>Seed of the initial weights.</summary>
    public long Init { get; set; }
    /// <summary>Seed of the shard plan (the shuffle that partitions samples).</summary>
    public long ShardPlan { get; set; }
}

/// <summary>One round: its input, every attempt at its shards, and the merged output.</summary>
public sealed class RoundRecord
{
    /// <summary>1-based round number.</summary>
    public int Round { get; set; }
    public string InputDigest { get; set; } = "";
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
    public string MergeStrategy { get; set; } = MergeStrategies.FedAvg;
    public List<ShardRecord> Shards { get; set; } = new();
    public List<AttemptRecord> Attempts { get; set; } = new();
    /// <summary>Result digests folded into this round's merge, in the order they were merged.</summary>
    public List<string> MergedResults { get; set; } = new();
    public string? OutputDigest { get; set; }
    /// <summary><see cref="Weights.TensorsDigest"/> of the round's merged weights (the file digest also covers metadata naming the run).</summary>
    public string? OutputTensorsDigest { get; set; }
    /// <summary>Server momentum after this round (nesterov only), so a restarted coordinator continues exactly.</summary>
    public string? MomentumDigest { get; set; }
    /// <summary>Sample-weighted mean of the merged results' final losses.</summary>
    public double? MeanLoss { get; set; }
    /// <summary>The merged model on the evaluation split; null when the run evaluates nothing.</summary>
    public RoundEvaluation? Evaluation { get; set; }
    /// <summary>Set when the round closed without every shard (a quorum at its deadline); null when every shard was merged.</summary>
    public QuorumClosure? Quorum { get; set; }
}

/// <summary>A round closed by its quorum: what was left out of the merge and why.</summary>
public sealed class QuorumClosure
{
    /// <summary>Results the policy asked for.</summary>
    public int Quorum { get; set; }
    /// <summary>Results merged when the round closed.</summary>
    public int Merged { get; set; }
    /// <summary>Shards whose results are not in the merge (their running attempts were cancelled).</summary>
    public List<int> UnmergedShards { get; set; } = new();
    /// <summary>When the deadline fell.</summary>
    public DateTimeOffset Deadline { get; set; }
    /// <summary>Shards a wrangler dropped from the round (OpenCue's <c>eat</c>), also listed in <see cref="UnmergedShards"/>; null when none.</summary>
    public List<EatenShard>? Eaten { get; set; }
}

/// <summary>A shard dropped from its round by a wrangler: the round closes without its result.</summary>
public sealed class EatenShard
{
    public int Shard { get; set; }
    /// <summary>Who asked, as the call named them.</summary>
    public string By { get; set; } = "";
    public DateTimeOffset At { get; set; }
    /// <summary>How the request came (e.g. <c>OpenCue from 10.0.0.5</c>).</summary>
    public string Via { get; set; } = "";
}

/// <summary>Settings of a run changed after submission; each null while the spec's value holds.</summary>
public sealed class RunControls
{
    /// <summary>Dispatch priority: runs of higher priority get free agents first.</summary>
    public int? Priority { get; set; }
    /// <summary>Failed attempts tolerated per shard (the spec's <c>max_retries</c> until changed).</summary>
    public int? MaxRetries { get; set; }
}

/// <summary>A wrangler's comment on a run.</summary>
public sealed class RunComment
{
    /// <summary>1-based, in the order comments were made.</summary>
    public int Number { get; set; }
    public DateTimeOffset At { get; set; }
    /// <summary>Who wrote it, as the call named them.</summary>
    public string User { get; set; } = "";
    public string Subject { get; set; } = "";
    public string Message { get; set; } = "";
}

/// <summary>One shard of a round: the part of the data it covers and the seed it trains with.</summary>
public sealed class ShardRecord
{
    /// <summary>0-based shard index.</summary>
    public int Shard { get; set; }
    public int Samples { get; set; }
    public long Seed { get; set; }
    /// <summary>Digest of the accepted result, once one is.</summary>
    public string? ResultDigest { get; set; }

    /// <summary>A copy of this record as it stands (every field is a value or an immutable string), for writers that serialise it later.</summary>
    public ShardRecord Copy() => (ShardRecord)MemberwiseClone();
}

/// <summary>One lease of a shard to an agent and how it ended.</summary>
public sealed class AttemptRecord
{
    public int Shard { get; set; }
    /// <summary>1-based attempt number of this shard in this round.</summary>
    public int Attempt { get; set; }
    public string AgentId { get; set; } = "";
    public string LeaseId { get; set; } = "";
    public long LeaseEpoch { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
    public long? Samples { get; set; }
    public string? ResultDigest { get; set; }
    public double? FinalLoss { get; set; }
    public string? Device { get; set; }
    /// <summary>running, succeeded, failed, expired, refused, cancelled, preempted, killed, retried.</summary>
    public string Outcome { get; set; } = AttemptOutcomes.Running;
    public string? Error { get; set; }
    /// <summary>Preempted attempts: the checkpoint stored when the node yielded to rendering (null when none was kept).</summary>
    public string? CheckpointDigest { get; set; }
    /// <summary>Preempted attempts: where training stood (epoch, batch, samples).</summary>
    public string? Progress { get; set; }
    /// <summary>The checkpoint this attempt resumed from (a preempted attempt's); null when it started from the round's input.</summary>
    public string? ResumedFrom { get; set; }
    /// <summary>Who stopped the attempt or discarded its result (killed, retried, or cancelled by an eat), as the call named them; null otherwise.</summary>
    public string? StoppedBy { get; set; }

    /// <summary>A copy of this record as it stands (every field is a value or an immutable string), for writers that serialise it later.</summary>
    public AttemptRecord Copy() => (AttemptRecord)MemberwiseClone();
}

/// <summary>How an attempt ended.</summary>
public static class AttemptOutcomes
{
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Expired = "expired";
    public const string Refused = "refused";
    public const string Cancelled = "cancelled";
    /// <summary>Handed back because the node yielded to rendering; not a failure.</summary>
    public const string Preempted = "preempted";
    /// <summary>Stopped by a wrangler (OpenCue's frame kill); the shard was queued again. Not a failure.</summary>
    public const string Killed = "killed";
    /// <summary>Succeeded, then its result was taken out of the round's merge by a wrangler's retry (the shard ran again).</summary>
    public const string Retried = "retried";
}
