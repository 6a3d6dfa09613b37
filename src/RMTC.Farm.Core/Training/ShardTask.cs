namespace RMTC.Farm.Core.Training;

/// <summary>
/// What a shard's child process is asked to do, written by the agent as JSON (<c>task.json</c>) next to the work.
/// </summary>
public sealed record ShardTask
{
    /// <summary>
    /// What to do: <see cref="ShardTaskKinds.Train"/> (a shard, the default), <see cref="ShardTaskKinds.Prepare"/> (the
    /// run's initial weights from <see cref="Seed"/> into <see cref="OutputPath"/>) or <see cref="ShardTaskKinds.Evaluate"/>
    /// (<see cref="InitialWeightsPath"/> on <see cref="SampleIndices"/>, figures into <see cref="ResultPath"/>).
    /// </summary>
    public string Kind { get; init; } = ShardTaskKinds.Train;
    public required string RunId { get; init; }
    public required int Round { get; init; }
    public required int Shard { get; init; }
    public required string Recipe { get; init; }
    /// <summary>Absolute path of the dataset directory (readable by every node).</summary>
    public required string DatasetPath { get; init; }
    /// <summary>Indices into the dataset's sorted sample list.</summary>
    public required int[] SampleIndices { get; init; }
    /// <summary>Global weights to start from (safetensors).</summary>
    public required string InitialWeightsPath { get; init; }
    /// <summary>Seed for shuffling and any randomness: derived per (run, round, shard).</summary>
    public required long Seed { get; init; }
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 0.01;
    /// <summary>Where the trained weights go (safetensors).</summary>
    public required string OutputPath { get; init; }
    /// <summary>Where the summary goes (<see cref="ShardResult"/> as JSON).</summary>
    public required string ResultPath { get; init; }
    /// <summary><c>auto</c> (CUDA when available), <c>cpu</c> or <c>cuda</c>.</summary>
    public string Device { get; init; } = "auto";
    /// <summary>Torch intra-op threads; 0 = library default.</summary>
    public int Threads { get; init; }
    /// <summary>Where to write a checkpoint when asked to yield (SIGUSR1 to <c>rmtc shard run</c>); null = yielding stops without one.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>A checkpoint of an earlier, preempted attempt of this shard to resume from; null = start from the initial weights.</summary>
    public string? ResumeCheckpointPath { get; init; }
    /// <summary>The local optimiser; null for Adam without weight decay (what every shard used before the setting existed).</summary>
    public OptimizerSettings? Optimizer { get; init; }
    /// <summary>A TorchScript model to train instead of the built-in <see cref="Recipe"/>; null for a built-in recipe.</summary>
    public ScriptedModel? Model { get; init; }
    /// <summary>How samples are augmented while training (<see cref="SampleAugmentations"/>); null for none.</summary>
    public string? Augment { get; init; }
}

/// <summary>Where a yielded shard stood when it wrote its checkpoint (the trainer's <c>yield.json</c>).</summary>
/// <param name="Epoch">1-based epoch in progress (the next batch belongs to it).</param>
/// <param name="BatchesDone">Batches of that epoch already trained.</param>
/// <param name="SamplesSeen">Samples trained so far, over all epochs.</param>
/// <param name="SamplesTotal">Samples the whole attempt trains (samples × epochs).</param>
public sealed record ShardYieldReport(int Epoch, int BatchesDone, long SamplesSeen, long SamplesTotal);

/// <summary>What a finished shard reports.</summary>
public sealed record ShardResult
{
    public required long Samples { get; init; }
    public required double FinalLoss { get; init; }
    public required double[] EpochLosses { get; init; }
    public required double Seconds { get; init; }
    public required string Device { get; init; }
    /// <summary>The trainer's TorchSharp version (prepare tasks report it for the run's code record); null otherwise.</summary>
    public string? TorchSharpVersion { get; init; }
}

/// <summary>Values of <see cref="ShardTask.Kind"/>.</summary>
public static class ShardTaskKinds
{
    /// <summary>Train a shard.</summary>
    public const string Train = "train";

    /// <summary>Build a run's initial weights.</summary>
    public const string Prepare = "prepare";

    /// <summary>Evaluate weights on held-out samples.</summary>
    public const string Evaluate = "evaluate";
}

/// <summary>What an evaluation task reports (its <c>result.json</c>).</summary>
public sealed record EvaluationFigures
{
    public required double Loss { get; init; }
    public double? Accuracy { get; init; }
    public double? Psnr { get; init; }
    public required int Samples { get; init; }
    public required double Seconds { get; init; }
    public required string Device { get; init; }
}

/// <summary>Progress of a running shard (reported by the trainer as it goes).</summary>
public sealed record TrainingProgress(int Epoch, int Epochs, long SamplesSeen, long SamplesTotal, double Loss);

/// <summary>
/// What a task whose input is refused writes to <see cref="ShardTask.ResultPath"/> before it exits with
/// <see cref="TaskRefusal.ExitCode"/>: a run's model file that fails its check. Retrying cannot mend it, so the agent
/// reports it as such and the run fails with these problems.
/// </summary>
public sealed record TaskRefusal
{
    /// <summary>The trainer's exit code for a refused input (EX_DATAERR of sysexits.h).</summary>
    public const int ExitCode = 65;

    /// <summary>Every problem, each naming the file (as the spec named it) and what is wrong.</summary>
    public required IReadOnlyList<string> Problems { get; init; }
}
