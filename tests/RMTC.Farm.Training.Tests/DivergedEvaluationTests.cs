using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Tasks;

namespace RMTC.Farm.Training.Tests;

/// <summary>
/// A round's evaluation whose model gives no number (finite weights, outputs that are not): the trainer says the model
/// diverged and what to lower, instead of failing to write NaN as JSON.
/// </summary>
public class DivergedEvaluationTests
{
    [Fact]
    public void A_model_whose_outputs_are_not_finite_is_reported_as_diverged_and_no_figures_are_written()
    {
        using var dir = new TempDirectory();
        var data = ScriptedModelTests.Synth(dir, "classifier", 8);
        var model = ScriptedModelTests.Classifier;
        var (weights, _) = RunInitialisation.CreateState(Core.Jobs.ModelSpec.RecipeName, model, data, seed: 1);
        // A negative variance, as an extrapolating merge could once produce: BatchNorm's square root gives NaN.
        var broken = weights.Select(t => t.Name.EndsWith(".running_var", StringComparison.Ordinal)
            ? NamedTensor.FromFloats(t.Name, t.Shape, Enumerable.Repeat(-1f, t.AsFloat32().Length).ToArray())
            : t).ToList();
        Safetensors.WriteFile(dir.Combine("round.safetensors"), broken);
        var task = new ShardTask
        {
            Kind = ShardTaskKinds.Evaluate,
            RunId = "diverged-1",
            Round = 3,
            Shard = -1,
            Recipe = Core.Jobs.ModelSpec.RecipeName,
            DatasetPath = data,
            SampleIndices = [0, 1, 2, 3],
            InitialWeightsPath = dir.Combine("round.safetensors"),
            Seed = 1,
            OutputPath = "",
            ResultPath = dir.Combine("figures.json"),
            Model = model,
        };

        var e = Assert.Throws<ModelDivergedException>(() => HeldOutEvaluation.Run(task));

        Assert.Contains("round 3's merged weights give a test loss of NaN", e.Message, StringComparison.Ordinal);
        Assert.Contains("lower local.learning_rate", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(task.ResultPath));
    }
}
