using System.Text.Json;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Yielding;

/// <summary>The agent's side of render-first preemption: what a yielded attempt reports, and the simulation's checkpoint.</summary>
public static class Preemption
{
    /// <summary>Exit code of <c>rmtc shard run</c> after it yielded and wrote its checkpoint (EX_TEMPFAIL).</summary>
    public const int YieldedExitCode = TrainerExitCodes.Yielded;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The session message for an attempt handed back; <paramref name="checkpointDigest"/> empty when none is stored.</summary>
    public static ShardYielded Yielded(Assignment a, string reason, string checkpointDigest, ShardYieldReport? report) => new()
    {
        LeaseId = a.LeaseId,
        LeaseEpoch = a.LeaseEpoch,
        Reason = reason.Length > 0 ? reason : "the node yielded to rendering",
        CheckpointDigest = checkpointDigest,
        TrainingEpoch = (uint)(report?.Epoch ?? 0),
        BatchesDone = (uint)(report?.BatchesDone ?? 0),
        SamplesSeen = (ulong)(report?.SamplesSeen ?? 0),
        SamplesTotal = (ulong)(report?.SamplesTotal ?? 0),
    };

    /// <summary>Writes the checkpoint of a simulated shard: how long it has "trained" of how long.</summary>
    public static void WriteSimulatedCheckpoint(string path, TimeSpan trained, TimeSpan total) =>
        File.WriteAllText(path, JsonSerializer.Serialize(new SimulatedCheckpoint(true, trained.TotalMilliseconds, total.TotalMilliseconds), Json));

    /// <summary>How long the simulated shard of this checkpoint had trained; zero when the file is not one.</summary>
    public static TimeSpan ReadSimulatedCheckpoint(string path)
    {
        try
        {
            var c = JsonSerializer.Deserialize<SimulatedCheckpoint>(File.ReadAllText(path), Json);
            return c is { Simulated: true } && double.IsFinite(c.TrainedMs) && c.TrainedMs > 0 ? TimeSpan.FromMilliseconds(c.TrainedMs) : TimeSpan.Zero;
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            return TimeSpan.Zero;
        }
    }

    private sealed record SimulatedCheckpoint(bool Simulated, double TrainedMs, double TotalMs);
}
