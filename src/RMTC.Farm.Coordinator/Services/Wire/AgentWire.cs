using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Services.Wire;

/// <summary>
/// The agents' protobuf messages to the scheduler's own types and back. The wire stops here: nothing past
/// <c>Services/</c> sees a generated type, so the protocol and the scheduler change apart.
/// </summary>
internal static class AgentWire
{
    public static AgentRegistration ToDomain(this RegisterRequest r) =>
        new(r.AgentId, r.Hostname, (int)Math.Min(r.Slots, int.MaxValue), r.Capacity?.ToDomain() ?? AgentResources.None, r.Version);

    public static AgentResources ToDomain(this Resources r) =>
        new(r.Gpus, r.GpuMemoryMib, r.MemoryMib, r.Cores, r.Tags.ToArray());

    public static RegisterResponse ToWire(this AgentWelcome w) => new()
    {
        SessionToken = w.SessionToken,
        HeartbeatIntervalMs = (uint)w.HeartbeatIntervalMs,
        LeaseTimeoutMs = (uint)w.LeaseTimeoutMs,
    };

    public static AgentHeartbeat ToDomain(this Heartbeat h) =>
        new(h.Running.Select(ToDomain).ToArray(), h.Gpus.Select(ToDomain).ToArray(), h.Yielding, h.YieldReason);

    public static LeaseProgress ToDomain(this ShardProgress p) =>
        new(p.LeaseId, Epoch(p.LeaseEpoch), p.Phase, (int)p.TrainingEpoch, (int)p.TrainingEpochs, p.SamplesSeen, p.SamplesTotal, p.Loss);

    public static GpuReading ToDomain(this GpuSample g) => new(
        g.Index,
        g.Uuid,
        g.Name,
        g.HasUtilizationPercent ? g.UtilizationPercent : null,
        g.HasMemoryUsedMib ? g.MemoryUsedMib : null,
        g.HasMemoryTotalMib ? g.MemoryTotalMib : null,
        g.HasPowerWatts ? g.PowerWatts : null,
        g.HasTemperatureCelsius ? g.TemperatureCelsius : null,
        g.Simulated);

    public static GpuSample ToWire(this GpuReading g)
    {
        var wire = new GpuSample { Index = g.Index, Uuid = g.Uuid, Name = g.Name, Simulated = g.Simulated };
        if (g.UtilizationPercent is { } utilisation)
        {
            wire.UtilizationPercent = utilisation;
        }

        if (g.MemoryUsedMib is { } used)
        {
            wire.MemoryUsedMib = used;
        }

        if (g.MemoryTotalMib is { } total)
        {
            wire.MemoryTotalMib = total;
        }

        if (g.PowerWatts is { } watts)
        {
            wire.PowerWatts = watts;
        }

        if (g.TemperatureCelsius is { } celsius)
        {
            wire.TemperatureCelsius = celsius;
        }

        return wire;
    }

    public static AttemptFailure ToDomain(this ShardFailed f) => new(f.LeaseId, Epoch(f.LeaseEpoch), f.Reason, f.InputRefused);

    public static AttemptYield ToDomain(this ShardYielded y) =>
        new(y.LeaseId, Epoch(y.LeaseEpoch), y.Reason, y.CheckpointDigest, (int)y.TrainingEpoch, (int)y.BatchesDone, y.SamplesSeen, y.SamplesTotal);

    public static EvaluationOutcome ToDomain(this EvaluationReport e) => new(
        e.LeaseId,
        Epoch(e.LeaseEpoch),
        e.Loss,
        e.HasAccuracy ? e.Accuracy : null,
        e.HasPsnr ? e.Psnr : null,
        (int)e.Samples,
        e.Seconds,
        e.Device);

    public static ResultUpload ToDomain(this UploadHeader h) => new(
        h.LeaseId,
        Epoch(h.LeaseEpoch),
        h.AgentId,
        h.Digest,
        // A size past long's range is refused by the upload bounds like any other oversized claim.
        (long)Math.Min(h.TotalBytes, long.MaxValue),
        (long)Math.Min(h.Samples, long.MaxValue),
        h.FinalLoss,
        h.EpochLosses.ToArray(),
        h.TrainSeconds,
        h.Device,
        h.Checkpoint,
        h.TorchsharpVersion);

    public static CoordinatorMessage ToWire(this AgentCommand command) => command switch
    {
        AssignWork a => new CoordinatorMessage { Assign = a.Order.ToWire() },
        CancelWork c => new CoordinatorMessage { Cancel = new Cancel { LeaseId = c.LeaseId, LeaseEpoch = (ulong)c.LeaseEpoch, Reason = c.Reason } },
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, "no wire form for this agent command"),
    };

    public static Assignment ToWire(this WorkOrder o)
    {
        var a = new Assignment
        {
            Kind = o.Kind switch
            {
                WorkKind.Prepare => TaskKind.Prepare,
                WorkKind.Evaluate => TaskKind.Evaluate,
                _ => TaskKind.Shard,
            },
            LeaseId = o.LeaseId,
            LeaseEpoch = (ulong)o.LeaseEpoch,
            RunId = o.RunId,
            Round = (uint)o.Round,
            Shard = (uint)o.Shard,
            Attempt = (uint)o.Attempt,
            Recipe = o.Recipe,
            DatasetPath = o.DatasetPath,
            DatasetDigest = o.DatasetDigest,
            GlobalWeightsDigest = o.GlobalWeightsDigest,
            GlobalWeightsBytes = (ulong)o.GlobalWeightsBytes,
            Seed = o.Seed,
            Epochs = (uint)o.Epochs,
            BatchSize = (uint)o.BatchSize,
            LearningRate = o.LearningRate,
            ResumeCheckpointDigest = o.ResumeCheckpointDigest,
            Optimizer = o.Optimizer,
            Momentum = o.Momentum,
            WeightDecay = o.WeightDecay,
            Augment = o.Augment,
        };
        if (o.Model is { } model)
        {
            a.ModelDigest = model.Digest;
            a.ModelTask = model.Task;
            a.ModelLoss = model.Loss;
            a.ModelFile = model.File;
        }

        foreach (var i in o.SampleIndices)
        {
            a.SampleIndices.Add((uint)i);
        }

        return a;
    }

    /// <summary>Epochs are positive longs in the scheduler; a wire value past that range can match no lease.</summary>
    private static long Epoch(ulong wire) => wire > long.MaxValue ? -1 : (long)wire;
}
