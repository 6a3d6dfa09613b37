using System.Text.Json;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Training.Tasks;

/// <summary>
/// A round's evaluation task, run by an agent's trainer process: the weights at <see cref="ShardTask.InitialWeightsPath"/>
/// (the round's merged model) on the samples at <see cref="ShardTask.SampleIndices"/> (the run's evaluation split).
/// </summary>
public static class HeldOutEvaluation
{
    /// <summary>Evaluates and writes the figures (<see cref="EvaluationFigures"/>) to <see cref="ShardTask.ResultPath"/>.</summary>
    public static EvaluationFigures Run(ShardTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        var (_, deviceName) = ShardTrainer.ResolveDevice(task.Device);
        var weights = Safetensors.ReadFile(task.InitialWeightsPath).Tensors;
        using var set = EvaluationSet.Load(RecipeCatalog.Resolve(task.Recipe, task.Model), task.DatasetPath, task.SampleIndices, task.Device);
        var r = set.Evaluate(weights);
        var figures = new EvaluationFigures { Loss = r.Loss, Accuracy = r.Accuracy, Psnr = r.Psnr, Samples = r.Samples, Seconds = r.Seconds, Device = deviceName };
        File.WriteAllText(task.ResultPath, JsonSerializer.Serialize(figures, TaskJson.Options));
        return figures;
    }
}

/// <summary>The JSON shape of task and result files (web defaults: camelCase), as the agent reads them.</summary>
internal static class TaskJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
