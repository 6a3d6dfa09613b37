namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>An agent asking to join the farm (or rejoin after a restart of either side).</summary>
/// <param name="AgentId">Its stable id (Agent:Id, by default the host name).</param>
/// <param name="Hostname">The node's host name.</param>
/// <param name="Slots">How many attempts it runs at once.</param>
/// <param name="Capacity">What the node offers training.</param>
/// <param name="Version">The rmtc version it runs.</param>
public sealed record AgentRegistration(string AgentId, string Hostname, int Slots, AgentResources Capacity, string Version);

/// <summary>What a registered agent is told: the token its session presents and the timing it must keep.</summary>
public sealed record AgentWelcome(string SessionToken, int HeartbeatIntervalMs, int LeaseTimeoutMs);

/// <summary>An agent's periodic report: what it runs, its GPUs, and whether its node yields to rendering.</summary>
/// <param name="Running">Progress of every attempt the agent runs.</param>
/// <param name="Gpus">Its GPUs as last sampled (empty on a CPU node).</param>
/// <param name="Yielding">True while the node yields to rendering (no new leases).</param>
/// <param name="YieldReason">Why it yields (empty when it does not say); meaningful only while <paramref name="Yielding"/>.</param>
public sealed record AgentHeartbeat(IReadOnlyList<LeaseProgress> Running, IReadOnlyList<GpuReading> Gpus, bool Yielding, string YieldReason);

/// <summary>How far one running attempt has got, as its agent reports it.</summary>
/// <param name="LeaseId">The lease the message concerns.</param>
/// <param name="LeaseEpoch">That lease's epoch (fences out stale attempts).</param>
/// <param name="Phase">What the trainer is doing (fetching, loading, training, uploading).</param>
/// <param name="TrainingEpoch">The local epoch reached.</param>
/// <param name="TrainingEpochs">Local epochs in all.</param>
/// <param name="SamplesSeen">Samples trained so far.</param>
/// <param name="SamplesTotal">Samples to train in all.</param>
/// <param name="Loss">The latest loss.</param>
public sealed record LeaseProgress(
    string LeaseId,
    long LeaseEpoch,
    string Phase,
    int TrainingEpoch,
    int TrainingEpochs,
    ulong SamplesSeen,
    ulong SamplesTotal,
    double Loss);

/// <summary>An agent saying an attempt failed (trainer crashed, data unreadable).</summary>
/// <param name="LeaseId">The lease the message concerns.</param>
/// <param name="LeaseEpoch">That lease's epoch (fences out stale attempts).</param>
/// <param name="Reason">Why, in the agent's words.</param>
/// <param name="InputRefused">The task's input itself is refused (a run's model file fails its check): no retry can mend it.</param>
public sealed record AttemptFailure(string LeaseId, long LeaseEpoch, string Reason, bool InputRefused = false);

/// <summary>An agent handing an attempt back because its node yields to rendering, with the checkpoint it stored (if any).</summary>
/// <param name="LeaseId">The lease the message concerns.</param>
/// <param name="LeaseEpoch">That lease's epoch (fences out stale attempts).</param>
/// <param name="Reason">Why, in the agent's words.</param>
/// <param name="CheckpointDigest">The stored checkpoint's digest; empty when the agent stored none.</param>
/// <param name="TrainingEpoch">The local epoch reached.</param>
/// <param name="BatchesDone">Batches done in the current epoch.</param>
/// <param name="SamplesSeen">Samples trained so far.</param>
/// <param name="SamplesTotal">Samples to train in all.</param>
public sealed record AttemptYield(
    string LeaseId,
    long LeaseEpoch,
    string Reason,
    string CheckpointDigest,
    int TrainingEpoch,
    int BatchesDone,
    ulong SamplesSeen,
    ulong SamplesTotal);

/// <summary>The figures of a held-out evaluation an agent ran for a round (an evaluation task).</summary>
/// <param name="LeaseId">The lease the message concerns.</param>
/// <param name="LeaseEpoch">That lease's epoch (fences out stale attempts).</param>
/// <param name="Loss">The latest loss.</param>
/// <param name="Accuracy">Share of correct labels (labelled data); null otherwise.</param>
/// <param name="Psnr">PSNR in dB where the recipe defines one; null otherwise.</param>
/// <param name="Samples">How many samples it covered.</param>
/// <param name="Seconds">How long it took.</param>
/// <param name="Device">The device it ran on (cpu, cuda:0).</param>
public sealed record EvaluationOutcome(
    string LeaseId,
    long LeaseEpoch,
    double Loss,
    double? Accuracy,
    double? Psnr,
    int Samples,
    double Seconds,
    string Device);
