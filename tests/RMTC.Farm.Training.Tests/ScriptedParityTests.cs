using System.Text.Json;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Tests;

/// <summary>
/// The farm's training of a scripted BatchNorm model held to PyTorch's own: the same file, samples and mini-batches
/// trained by PyTorch 1.13 (farm/models/testdata/make_parity_reference.py, committed as resnet_synth_parity.json so the
/// test needs no PyTorch), and the evaluation's use of BatchNorm's running statistics.
/// </summary>
public class ScriptedParityTests(ITestOutputHelper output)
{
    // libtorch 2.10 against PyTorch 1.13 on the CPU: the same operations, summed in other orders.
    private const double Tolerance = 1e-4;

    [Fact]
    public void Local_training_of_a_scripted_BatchNorm_model_follows_PyTorch_epoch_for_epoch()
    {
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(ScriptedModelTests.Models, "testdata", "resnet_synth_parity.json")));
        var root = reference.RootElement;
        var training = root.GetProperty("training");
        var n = root.GetProperty("data").GetProperty("samples").GetInt32();
        using var dir = new TempDirectory();
        var data = dir.Combine("data");
        DatasetSynthesizer.Synthesize("classifier", data, n, root.GetProperty("data").GetProperty("seed").GetInt64());
        Assert.Equal(root.GetProperty("data").GetProperty("inputSum").GetDouble(), InputSum(data, n), 3);

        var rounds = new List<LocalRoundReport>();
        var trained = LocalTrainer.Run(new LocalTrainingRequest
        {
            Recipe = ScriptedModelRecipe.RecipeName,
            Model = ScriptedModelTests.Classifier,
            DatasetPath = data,
            TrainIndices = Enumerable.Range(0, n).ToArray(),
            EvaluationIndices = Enumerable.Range(0, n).ToArray(),
            InitialWeights = RecipeCatalog.CreateInitialWeights(ScriptedModelTests.Classifier),
            Rounds = training.GetProperty("epochs").GetInt32(),
            EpochsPerRound = 1,
            BatchSize = training.GetProperty("batch").GetInt32(),
            LearningRate = training.GetProperty("learningRate").GetDouble(),
            Optimizer = new OptimizerSettings
            {
                Name = OptimizerNames.Sgd,
                Momentum = training.GetProperty("momentum").GetDouble(),
                WeightDecay = training.GetProperty("weightDecay").GetDouble(),
            },
            Seed = training.GetProperty("seed").GetInt64(),
            Device = "cpu",
            Threads = 1,
        }, new SyncProgress<LocalRoundReport>(rounds.Add), CancellationToken.None);

        var epochs = root.GetProperty("epochs").EnumerateArray().ToList();
        Assert.Equal(epochs.Count, rounds.Count);
        for (var e = 0; e < epochs.Count; e++)
        {
            var expected = epochs[e];
            var actual = rounds[e];
            output.WriteLine($"epoch {e + 1}: train loss {actual.TrainLoss:F5} (PyTorch {expected.GetProperty("trainLoss").GetDouble():F5}), " +
                $"eval loss {actual.Evaluation!.Loss:F5} ({expected.GetProperty("evalLoss").GetDouble():F5}), accuracy {actual.Evaluation.Accuracy} ({expected.GetProperty("evalAccuracy").GetDouble()})");
            Assert.Equal(expected.GetProperty("trainLoss").GetDouble(), actual.TrainLoss, Tolerance);
            Assert.Equal(expected.GetProperty("evalLoss").GetDouble(), actual.Evaluation.Loss, Tolerance);
            Assert.Equal(expected.GetProperty("evalAccuracy").GetDouble(), actual.Evaluation.Accuracy!.Value, 6);
        }

        foreach (var buffer in root.GetProperty("buffers").EnumerateObject())
        {
            var tensor = trained.Single(t => t.Name == buffer.Name);
            var values = tensor.DType == Core.Weights.TensorDType.I64
                ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(tensor.Data).ToArray().Select(v => (double)v).ToArray()
                : tensor.AsFloat32().ToArray().Select(v => (double)v).ToArray();
            var expected = buffer.Value.EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Assert.Equal(expected.Length, values.Length);
            for (var i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - values[i]) <= Tolerance, $"{buffer.Name}[{i}] is {values[i]}, PyTorch's {expected[i]}");
            }
        }

        // The trained state in eval mode (parameters and running statistics together) gives PyTorch's logits.
        using var model = RecipeCatalog.Resolve(ScriptedModelRecipe.RecipeName, ScriptedModelTests.Classifier).CreateModel([1, 16, 16], 4);
        TorchWeights.Load(model, trained);
        model.eval();
        var (_, samples) = ShardTrainer.LoadShard(RecipeCatalog.Resolve(ScriptedModelRecipe.RecipeName, ScriptedModelTests.Classifier), data, Enumerable.Range(0, n).ToArray(), CancellationToken.None);
        using var inputs = ShardTrainer.InputsTensor(samples, CPU);
        using var noGrad = no_grad();
        using var logits = model.forward(inputs);
        var actualLogits = logits.flatten().data<float>().ToArray();
        var expectedLogits = root.GetProperty("finalLogits").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.Equal(expectedLogits.Length, actualLogits.Length);
        var worst = expectedLogits.Select((v, i) => Math.Abs(v - actualLogits[i])).Max();
        output.WriteLine($"final eval-mode logits: largest difference to PyTorch {worst:E2}");
        Assert.True(worst <= Tolerance, $"eval-mode logits differ from PyTorch's by up to {worst}");
    }

    [Fact]
    public void Evaluating_a_scripted_BatchNorm_model_uses_its_running_statistics_and_leaves_it_training()
    {
        using var dir = new TempDirectory();
        var data = ScriptedModelTests.Synth(dir, "classifier", 40);
        var recipe = RecipeCatalog.Resolve(ScriptedModelRecipe.RecipeName, ScriptedModelTests.Classifier);
        var trained = LocalTrainer.Run(new LocalTrainingRequest
        {
            Recipe = ScriptedModelRecipe.RecipeName,
            Model = ScriptedModelTests.Classifier,
            DatasetPath = data,
            TrainIndices = Enumerable.Range(0, 40).ToArray(),
            InitialWeights = RecipeCatalog.CreateInitialWeights(ScriptedModelTests.Classifier),
            BatchSize = 8,
            LearningRate = 0.05,
            Optimizer = new OptimizerSettings { Name = OptimizerNames.Sgd, Momentum = 0.9 },
            Device = "cpu",
            Threads = 1,
        }, null, CancellationToken.None);

        // Eval mode normalises with the running statistics, so a sample's output cannot depend on its batch-mates:
        // batches of 40, 7 and 1 give the same result (in training mode each batch would bring its own statistics).
        var all = Enumerable.Range(0, 40).ToArray();
        var results = new[] { 40, 7, 1 }.Select(batch =>
        {
            using var set = EvaluationSet.Load(recipe, data, all, "cpu", batch);
            return set.Evaluate(trained);
        }).ToList();
        Assert.All(results, r => Assert.Equal(results[0].Accuracy, r.Accuracy));
        Assert.All(results, r => Assert.Equal(results[0].Loss, r.Loss, 5));

        // A live model is evaluated without touching its state and goes back to training mode.
        using var model = recipe.CreateModel([1, 16, 16], 4);
        TorchWeights.Load(model, trained);
        model.train();
        using (var set = EvaluationSet.Load(recipe, data, all, "cpu", 7))
        {
            set.Evaluate(model);
        }

        Assert.True(model.Module.training);
        Assert.All(model.Module.named_modules(), m => Assert.True(m.module.training, $"{m.name} is left in eval mode"));
        var after = TorchWeights.Export(model);
        for (var i = 0; i < trained.Count; i++)
        {
            Assert.True(trained[i].Data.AsSpan().SequenceEqual(after[i].Data), $"evaluation changed {trained[i].Name}");
        }
    }

    private static double InputSum(string data, int n)
    {
        var (_, samples) = ShardTrainer.LoadShard(RecipeCatalog.Resolve(ScriptedModelRecipe.RecipeName, ScriptedModelTests.Classifier), data, Enumerable.Range(0, n).ToArray(), CancellationToken.None);
        return samples.Inputs.Sum(v => (double)v);
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
