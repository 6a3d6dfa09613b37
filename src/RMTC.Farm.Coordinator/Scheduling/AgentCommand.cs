namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>What the scheduler tells an agent over its session: run some work, or stop it.</summary>
public abstract record AgentCommand;

/// <summary>Run this work under this lease.</summary>
public sealed record AssignWork(WorkOrder Order) : AgentCommand;

/// <summary>Stop the attempt running under this lease (another attempt won, its round closed, or its run ended).</summary>
public sealed record CancelWork(string LeaseId, long LeaseEpoch, string Reason) : AgentCommand;

/// <summary>What a lease asks an agent to do.</summary>
public enum WorkKind
{
    /// <summary>Train a shard from the round's global weights on its samples and upload the result.</summary>
    Shard,

    /// <summary>Build the run's initial weights from its seed and upload them.</summary>
    Prepare,

    /// <summary>Evaluate a round's merged weights on the evaluation split and report the figures.</summary>
    Evaluate,
}

/// <summary>One leased piece of work, everything an agent needs to run it without asking again.</summary>
/// <param name="Kind">What kind of work or event this is.</param>
/// <param name="LeaseId">The lease the message concerns.</param>
/// <param name="LeaseEpoch">That lease's epoch (fences out stale attempts).</param>
/// <param name="RunId">The run.</param>
/// <param name="Round">The round (1-based).</param>
/// <param name="Shard">The shard's index; 0 for a task (prepare, evaluate).</param>
/// <param name="Attempt">Which attempt of the shard or task this is (1-based).</param>
/// <param name="Recipe">Its recipe.</param>
/// <param name="DatasetPath">Where the dataset lies on the agents.</param>
/// <param name="DatasetDigest">The dataset's digest, checked by the agent before training.</param>
/// <param name="SampleIndices">The samples to train (a shard) or evaluate on (an evaluation); empty for a preparation.</param>
/// <param name="GlobalWeightsDigest">The weights to start from (a shard) or evaluate; empty for a preparation.</param>
/// <param name="GlobalWeightsBytes">Size of those weights in bytes.</param>
/// <param name="Seed">The seed of this shard (or of the run's initial weights).</param>
/// <param name="Epochs">Local epochs per shard.</param>
/// <param name="BatchSize">Samples per batch.</param>
/// <param name="LearningRate">The optimiser's learning rate.</param>
/// <param name="ResumeCheckpointDigest">A checkpoint of an earlier, preempted attempt to resume from; empty to start afresh.</param>
/// <param name="Optimizer">The local optimiser as the spec names it (<c>adam</c>, <c>sgd</c>); empty for adam, what shards used before the setting.</param>
/// <param name="Momentum">SGD's momentum (0 for none).</param>
/// <param name="WeightDecay">Weight decay (0 for none).</param>
/// <param name="Model">The run's own TorchScript model, for every kind of work; null for a built-in recipe.</param>
/// <param name="Augment">The spec's <c>local.augment</c> (<c>flip-rotate</c>); empty for none.</param>
public sealed record WorkOrder(
    WorkKind Kind,
    string LeaseId,
    long LeaseEpoch,
    string RunId,
    int Round,
    int Shard,
    int Attempt,
    string Recipe,
    string DatasetPath,
    string DatasetDigest,
    IReadOnlyList<int> SampleIndices,
    string GlobalWeightsDigest,
    long GlobalWeightsBytes,
    long Seed,
    int Epochs,
    int BatchSize,
    double LearningRate,
    string ResumeCheckpointDigest = "",
    string Optimizer = "",
    double Momentum = 0,
    double WeightDecay = 0,
    WorkModel? Model = null,
    string Augment = "");

/// <summary>A run's TorchScript model as a lease names it: agents fetch the file by its digest.</summary>
/// <param name="Digest">The file's sha256 in the artifact store.</param>
/// <param name="Task">What it trains for: <c>image-pairs</c> or <c>labelled-images</c>.</param>
/// <param name="Loss"><c>mse</c>, <c>l1</c> or <c>cross_entropy</c>.</param>
/// <param name="File">The file as the spec named it (how a refusal names it; agents read their cached copy).</param>
public sealed record WorkModel(string Digest, string Task, string Loss, string File);
