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
        if (!double.IsFinite(r.Loss) || r.Accuracy is { } a && !double.IsFinite(a) || r.Psnr is { } p && double.IsNaN(p))
        {
            // JSON has no NaN or infinity, and no later round can read a figure that is not a number.
            throw new ModelDivergedException(
                $"round {task.Round}'s merged weights give a test loss of {r.Loss.ToString(System.Globalization.CultureInfo.InvariantCulture)} on {r.Samples} samples: "
                + "the model has diverged (its weights are finite, its outputs are not); lower local.learning_rate, or merge.outer_learning_rate with nesterov");
        }

        // An exact reconstruction (MSE 0) has no finite PSNR; its loss of 0 says so, and JSON cannot hold infinity.
        var psnr = r.Psnr is { } db && double.IsPositiveInfinity(db) ? null : r.Psnr;
        var figures = new EvaluationFigures { Loss = r.Loss, Accuracy = r.Accuracy, Psnr = psnr, Samples = r.Samples, Seconds = r.Seconds, Device = deviceName };
        File.WriteAllText(task.ResultPath, JsonSerializer.Serialize(figures, TaskJson.Options));
        return figures;
    }
}

/// <summary>A round's merged model whose held-out figures are not numbers: training diverged.</summary>
public sealed class ModelDivergedException(string message) : Exception(message);

/// <summary>The JSON shape of task and result files (web defaults: camelCase), as the agent reads them.</summary>
internal static class TaskJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
