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
    string ResumeCheckpointDigest = "");
