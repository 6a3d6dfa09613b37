namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>What an agent declares about a result before its bytes: the lease it answers, the content and its figures.</summary>
/// <param name="LeaseId">The lease the message concerns.</param>
/// <param name="LeaseEpoch">That lease's epoch (fences out stale attempts).</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Digest">sha256 of the bytes to come; the result is stored and recorded by it.</param>
/// <param name="TotalBytes">How many bytes will come; more is refused as they arrive.</param>
/// <param name="Samples">Samples trained (the FedAvg weight of a shard's result).</param>
/// <param name="FinalLoss">The last epoch's mean training loss.</param>
/// <param name="EpochLosses">Mean training loss of each local epoch.</param>
/// <param name="TrainSeconds">Seconds spent training.</param>
/// <param name="Device">The device it ran on (cpu, cuda:0).</param>
/// <param name="Checkpoint">True for a preempted attempt's checkpoint rather than a result.</param>
/// <param name="TorchSharpVersion">The TorchSharp the agent trained with (recorded in the manifest's code).</param>
public sealed record ResultUpload(
    string LeaseId,
    long LeaseEpoch,
    string AgentId,
    string Digest,
    long TotalBytes,
    long Samples,
    double FinalLoss,
    IReadOnlyList<double> EpochLosses,
    double TrainSeconds,
    string Device,
    bool Checkpoint,
    string TorchSharpVersion);
