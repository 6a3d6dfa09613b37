using System.Text;
using System.Text.Json;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// How large a run's manifest can grow, judged before the run starts: what it holds at submission (the spec, the
/// dataset's record) plus, for every round, a round record and per shard its record, its merged digest and its
/// allowed attempts (max_retries + 1, and one straggler twin). Each record's size is measured from a real record with
/// its fields at their longest, so the budget follows the manifest's shape as it changes.
/// </summary>
internal static class ManifestBudget
{
    private const string Digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    // What a run adds when it ends: its seal, final digest, end time and error (whose agent part is cut, see AgentText).
    private const int FinishBytes = 4 * 1024;

    private static readonly int RoundBytes = Measure(new RoundRecord
    {
        Round = int.MaxValue, InputDigest = Digest, StartedAt = DateTimeOffset.MaxValue, EndedAt = DateTimeOffset.MaxValue,
        MergeStrategy = MergeStrategies.Nesterov, OutputDigest = Digest, MomentumDigest = Digest, MeanLoss = double.MaxValue,
        Evaluation = new RoundEvaluation { Loss = double.MaxValue, Accuracy = double.MaxValue, Psnr = double.MaxValue, Samples = int.MaxValue, Seconds = double.MaxValue },
        Quorum = new QuorumClosure { Quorum = int.MaxValue, Merged = int.MaxValue, Deadline = DateTimeOffset.MaxValue },
    });

    // A shard's record, its merged digest, and its place in a quorum's unmerged list or eaten record.
    private static readonly int ShardBytes = Measure(new ShardRecord { Shard = int.MaxValue, Samples = int.MaxValue, Seed = long.MinValue, ResultDigest = Digest })
        + Measure(Digest) + Measure(int.MaxValue)
        + Measure(new EatenShard { Shard = int.MaxValue, By = new string('s', Scheduling.AgentText.MaxLength), At = DateTimeOffset.MaxValue, Via = new string('v', Scheduling.AgentText.MaxLength) });

    // An agent's error and progress texts are cut before they are recorded; 512 covers them with room.
    private static readonly int AttemptBytes = Measure(new AttemptRecord
    {
        Shard = int.MaxValue, Attempt = int.MaxValue, AgentId = new string('a', 128), LeaseId = new string('l', 64), LeaseEpoch = long.MaxValue,
        StartedAt = DateTimeOffset.MaxValue, EndedAt = DateTimeOffset.MaxValue, Samples = long.MaxValue, ResultDigest = Digest,
        FinalLoss = double.MaxValue, Device = new string('d', 64), Outcome = AttemptOutcomes.Preempted, Error = new string('e', 512),
        CheckpointDigest = Digest, Progress = new string('p', 128), ResumedFrom = Digest, StoppedBy = new string('s', Scheduling.AgentText.MaxLength),
    });

    /// <summary>The most bytes the manifest of a run of <paramref name="spec"/>, now <paramref name="manifest"/>, should reach.</summary>
    public static long Projected(RunManifest manifest, JobSpec spec)
    {
        long now = Encoding.UTF8.GetByteCount(manifest.ToJson());
        long perShard = ShardBytes + ((spec.MaxRetries + 2L) * AttemptBytes);
        return now + FinishBytes + (spec.Rounds * (RoundBytes + (spec.Shards * perShard)));
    }

    /// <summary>Throws <see cref="JobSpecException"/> naming the limit and its setting when the run could outgrow it.</summary>
    public static void Check(RunManifest manifest, JobSpec spec, int maxManifestBytes)
    {
        var projected = Projected(manifest, spec);
        if (projected > maxManifestBytes)
        {
            throw new JobSpecException([
                $"{spec.Name}: this run's manifest could grow to {projected} bytes ({spec.Rounds} rounds x {spec.Shards} shards, up to {spec.MaxRetries + 2} attempts each, beside the spec and the dataset's record), over the limit of {maxManifestBytes} (Coordinator:MaxManifestBytes): use fewer rounds, shards or max_retries, or raise the setting"]);
        }
    }

    private static int Measure<T>(T value) => Encoding.UTF8.GetByteCount(JsonSerializer.Serialize(value, RunManifest.JsonOptions)) + 1;
}
