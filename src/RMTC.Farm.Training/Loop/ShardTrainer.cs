using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Training.Loop;

/// <summary>Runs one shard: loads global weights and the shard's samples, trains locally, writes result weights and summary.</summary>
public static class ShardTrainer
{
    /// <summary>Trains per <paramref name="task"/>; writes <see cref="ShardTask.OutputPath"/> and <see cref="ShardTask.ResultPath"/>. Honors cancellation between batches.</summary>
    public static ShardResult Run(ShardTask task, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) => throw new NotImplementedException();
}
