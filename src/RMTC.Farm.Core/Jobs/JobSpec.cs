namespace RMTC.Farm.Core.Jobs;

/// <summary>A training job as a wrangler writes it (job.yaml). Field names in YAML are snake_case.</summary>
public sealed record JobSpec
{
    /// <summary>Human name of the run (letters, digits, '-', '_', '.').</summary>
    public required string Name { get; init; }
    /// <summary>
    /// Recipe to train, e.g. <c>denoiser</c> or <c>classifier</c>; <see cref="ModelSpec.RecipeName"/> (<c>torchscript</c>)
    /// when the spec has a <see cref="Model"/> block instead.
    /// </summary>
    public required string Recipe { get; init; }
    /// <summary>
    /// A model written in PyTorch and saved as TorchScript, the alternative to a built-in <see cref="Recipe"/>; null for a
    /// built-in recipe (so manifests written before this field re-serialise the same).
    /// </summary>
    public ModelSpec? Model { get; init; }
    /// <summary>Dataset directory (absolute after submission; relative paths resolve against the spec's directory).</summary>
    public required string Dataset { get; init; }
    /// <summary>Shards per round: the dataset is split into this many balanced parts.</summary>
    public int Shards { get; init; } = 3;
    public int Rounds { get; init; } = 2;
    /// <summary>Seed of the run; every shard's seed derives from it.</summary>
    public long Seed { get; init; } = 1;
    public LocalTrainingSpec Local { get; init; } = new();
    public MergeSpec Merge { get; init; } = new();
    public ResourceSpec Resources { get; init; } = new();
    /// <summary>Failed attempts tolerated per shard before the run fails.</summary>
    public int MaxRetries { get; init; } = 3;
    /// <summary>
    /// What the job agrees to about its data's rights; null when the spec has no <c>rights</c> section (left null rather
    /// than defaulted so a manifest sealed before this section existed re-serialises to the same bytes).
    /// </summary>
    public RightsSpec? Rights { get; init; }
    /// <summary>Assets (sha256) left out of training, e.g. after consent was withdrawn (see <c>rmtc lineage impact</c>).</summary>
    public IReadOnlyList<string> ExcludeAssets { get; init; } = [];
    /// <summary>Set when the job came as an OpenCue job spec (CJSL); null otherwise, so older manifests keep their bytes.</summary>
    public OpenCueOrigin? OpenCue { get; init; }
    /// <summary>
    /// How samples are dealt to shards: <c>iid</c> (seeded shuffle) or <c>by-label</c> (sorted by class, the classic
    /// non-IID case). Null when the spec does not say (iid), so manifests written before this field re-serialise the same.
    /// </summary>
    public string? Sharding { get; init; }
    /// <summary>What the global model is evaluated on after each round; null when the spec does not say (the dataset's test split, if any).</summary>
    public EvaluationSpec? Evaluation { get; init; }
    /// <summary>When a round closes and when a slow shard is also leased elsewhere; null when the spec does not say (wait for every shard, never speculate).</summary>
    public RoundPolicySpec? RoundPolicy { get; init; }

    /// <summary>
    /// The show the job belongs to (wranglers see and cancel only their shows' jobs when the coordinator authenticates);
    /// null when the spec does not say, so manifests written before this field re-serialise the same.
    /// </summary>
    public string? Show { get; init; }

    /// <summary>The show in effect: <see cref="Show"/>, else the OpenCue spec's show (not serialised).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? EffectiveShow => Show ?? OpenCue?.Show;

    /// <summary>The sharding in effect: <see cref="Sharding"/> or <c>iid</c> (not serialised: the spec records what was written).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string EffectiveSharding => Sharding ?? ShardingStrategies.Iid;
}

/// <summary>Evaluation of the global model after every round.</summary>
public sealed record EvaluationSpec
{
    /// <summary>A held-out split of the dataset, or <c>none</c>; null for the dataset's <c>test</c> split when it has one.</summary>
    public string? Split { get; init; }
}

/// <summary>
/// How a round closes: with every shard's result (<c>all</c>), or, once <see cref="Deadline"/> has passed since the round
/// started, with at least <see cref="Quorum"/> results (<c>quorum</c>); the shards still running are then cancelled and the
/// manifest lists exactly what was merged. Independently, a shard whose attempt has run for <see cref="StragglerAfter"/> is
/// also leased to another free agent; the first valid result wins and the other attempt is cancelled.
/// </summary>
public sealed record RoundPolicySpec
{
    /// <summary><c>all</c> or <c>quorum</c>.</summary>
    public string Close { get; init; } = RoundClosePolicies.All;
    /// <summary>Results that suffice after the deadline (quorum only): 1 to the shard count.</summary>
    public int? Quorum { get; init; }
    /// <summary>Time from a round's start after which a quorum closes it (quorum only).</summary>
    public TimeSpan? Deadline { get; init; }
    /// <summary>An attempt running longer than this gets a second, speculative lease on another agent; null: never.</summary>
    public TimeSpan? StragglerAfter { get; init; }
}

/// <summary>Names of the round-closing policies.</summary>
public static class RoundClosePolicies
{
    /// <summary>The round waits for every shard's result.</summary>
    public const string All = "all";
    /// <summary>After the deadline, the round closes as soon as it has a quorum of results.</summary>
    public const string Quorum = "quorum";
    public static readonly IReadOnlyList<string> Names = [All, Quorum];
}

/// <summary>Names of the sharding strategies.</summary>
public static class ShardingStrategies
{
    /// <summary>Seeded shuffle, then balanced parts: every shard sees every class (independent, identically distributed).</summary>
    public const string Iid = "iid";
    /// <summary>Sorted by label, then balanced contiguous parts: each shard sees few classes (non-IID).</summary>
    public const string ByLabel = "by-label";
    public static readonly IReadOnlyList<string> All = [Iid, ByLabel];
}

/// <summary>The job's side of the data's rights.</summary>
public sealed record RightsSpec
{
    /// <summary>
    /// constraint_info texts of <c>constrained</c> assertions the job honours, word for word; data under any other
    /// constraint is refused.
    /// </summary>
    public IReadOnlyList<string> AcceptConstraints { get; init; } = [];
}

/// <summary>What each shard does with its part of the data in one round.</summary>
public sealed record LocalTrainingSpec
{
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 0.01;
    /// <summary><c>adam</c> or <c>sgd</c>; null when the spec does not say (adam), so older manifests re-serialise the same.</summary>
    public string? Optimizer { get; init; }
    /// <summary>SGD's momentum; null when the spec does not say (0).</summary>
    public double? Momentum { get; init; }
    /// <summary>L2 weight decay; null when the spec does not say (0).</summary>
    public double? WeightDecay { get; init; }
    /// <summary><c>constant</c> or <c>cosine</c> (<see cref="Training.LearningRateSchedule"/>); null when the spec does not say (constant).</summary>
    public string? LearningRateSchedule { get; init; }
    /// <summary>The last round's learning rate under a cosine schedule; null when the spec does not say (5% of <see cref="LearningRate"/>).</summary>
    public double? FinalLearningRate { get; init; }
    /// <summary><c>none</c> or <c>flip-rotate</c> (<see cref="Training.SampleAugmentations"/>); null when the spec does not say (none).</summary>
    public string? Augment { get; init; }
    /// <summary>
    /// Rounds one epoch is spread over: each round trains every shard on one part of its samples
    /// (<see cref="Planning.RoundSlices"/>), so shards merge that many times as often at the same epochs; null when the
    /// spec does not say (1: a round trains <see cref="Epochs"/> whole epochs).
    /// </summary>
    public int? RoundsPerEpoch { get; init; }

    /// <summary>Rounds per epoch in effect (not serialised).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int EffectiveRoundsPerEpoch => RoundsPerEpoch ?? 1;

    /// <summary>The final learning rate in effect under a cosine schedule (not serialised).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double EffectiveFinalLearningRate => FinalLearningRate ?? LearningRate * Training.LearningRateSchedule.DefaultFinalFraction;

    /// <summary>Whether samples are flipped and turned while training (not serialised).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool FlipRotate => Augment == Training.SampleAugmentations.FlipRotate;

    /// <summary>The optimiser in effect: the spec's settings, with adam and zeros where it says nothing (not serialised).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Training.OptimizerSettings EffectiveOptimizer => new()
    {
        Name = Optimizer ?? Training.OptimizerNames.Adam,
        Momentum = Momentum ?? 0,
        WeightDecay = WeightDecay ?? 0,
    };
}

/// <summary>
/// A spec's <c>model:</c> block: a PyTorch model saved as TorchScript, the task and loss it trains with, and its rights
/// (a model file is an input like a dataset's assets).
/// </summary>
public sealed record ModelSpec
{
    /// <summary>The <see cref="JobSpec.Recipe"/> of a spec with a model block.</summary>
    public const string RecipeName = "torchscript";

    /// <summary>The TorchScript file (absolute after parsing; a relative path resolves against the spec's directory).</summary>
    public required string File { get; init; }
    /// <summary><c>image-pairs</c> or <c>labelled-images</c>: the dataset kind the model trains on.</summary>
    public required string Task { get; init; }
    /// <summary><c>mse</c> or <c>l1</c> (image-pairs), <c>cross_entropy</c> (labelled-images).</summary>
    public required string Loss { get; init; }
    /// <summary>The licence the model file is under, e.g. an SPDX identifier such as <c>Apache-2.0</c> or <c>proprietary</c>.</summary>
    public required string Licence { get; init; }
    /// <summary>Where the model comes from, in words (e.g. "fine-tuned from weights X under licence Y"); null when not said.</summary>
    public string? Origin { get; init; }
    /// <summary>An ONNX template exported from the same module (for <c>rmtc export</c>); null when none (absolute after parsing).</summary>
    public string? OnnxTemplate { get; init; }

    /// <summary>What the training code needs of this block.</summary>
    public Training.ScriptedModel ToScriptedModel() => new() { Path = File, Task = Task, Loss = Loss };
}

/// <summary>Where a parsed spec will run: features that only <c>rmtc train --local</c> runs yet are refused for the farm.</summary>
public enum JobSpecTarget
{
    /// <summary>Submitted to a coordinator.</summary>
    Farm,

    /// <summary>Trained in one process by <c>rmtc train --local</c>.</summary>
    Local,
}

/// <summary>How a round's results become the next global weights.</summary>
public sealed record MergeSpec
{
    /// <summary><c>fedavg</c> (sample-weighted mean) or <c>nesterov</c> (DiLoCo outer step with server momentum).</summary>
    public string Strategy { get; init; } = MergeStrategies.FedAvg;
    /// <summary>Outer learning rate (nesterov only).</summary>
    public double OuterLearningRate { get; init; } = 0.7;
    /// <summary>Outer momentum (nesterov only).</summary>
    public double Momentum { get; init; } = 0.9;
}

/// <summary>Names of the merge strategies.</summary>
public static class MergeStrategies
{
    public const string FedAvg = "fedavg";
    public const string Nesterov = "nesterov";
    public static readonly IReadOnlyList<string> All = [FedAvg, Nesterov];
}

/// <summary>What one shard attempt needs from a node.</summary>
public sealed record ResourceSpec
{
    public int Gpus { get; init; }
    public long GpuMemoryMiB { get; init; }
    public long MemoryMiB { get; init; }
    public double Cores { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
}
