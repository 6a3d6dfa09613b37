using RMTC.Farm.Agent.Execution.Transfers;
using RMTC.Farm.Agent.Execution.Workspace;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution.Trainer;

/// <summary>The <see cref="ShardTask"/> (<c>task.json</c>) a trainer gets for an assignment: inputs, outputs in the attempt's folder, threads.</summary>
public static class TrainerTasks
{
    /// <summary>The task for <paramref name="a"/>, its files in <paramref name="workspace"/>.</summary>
    public static ShardTask Create(Assignment a, ShardInputs inputs, ShardWorkspace workspace, AgentOptions o) => new()
    {
        Kind = a.Kind switch { TaskKind.Prepare => ShardTaskKinds.Prepare, TaskKind.Evaluate => ShardTaskKinds.Evaluate, _ => ShardTaskKinds.Train },
        RunId = a.RunId,
        Round = (int)a.Round,
        Shard = (int)a.Shard,
        Recipe = a.Recipe,
        DatasetPath = a.DatasetPath,
        SampleIndices = a.SampleIndices.Select(i => (int)i).ToArray(),
        InitialWeightsPath = inputs.WeightsPath,
        Seed = a.Seed,
        Epochs = (int)a.Epochs,
        BatchSize = (int)a.BatchSize,
        LearningRate = a.LearningRate,
        OutputPath = workspace.PathOf("result.safetensors"),
        ResultPath = workspace.PathOf("result.json"),
        Threads = o.ThreadsPerShard > 0 ? o.ThreadsPerShard : Math.Max(1, Environment.ProcessorCount / Math.Max(1, o.Slots)),
        CheckpointPath = workspace.PathOf("checkpoint.safetensors"),
        ResumeCheckpointPath = inputs.ResumeCheckpointPath,
        Optimizer = OptimizerOf(a),
        Model = inputs.Model,
        Augment = a.Augment.Length > 0 ? a.Augment : null,
    };

    /// <summary>The assignment's optimiser; null for adam without weight decay (what a coordinator that sends none means).</summary>
    private static OptimizerSettings? OptimizerOf(Assignment a)
    {
        var settings = new OptimizerSettings
        {
            Name = a.Optimizer.Length > 0 ? a.Optimizer : OptimizerNames.Adam,
            Momentum = a.Momentum,
            WeightDecay = a.WeightDecay,
        };
        return settings == OptimizerSettings.Default ? null : settings;
    }
}
