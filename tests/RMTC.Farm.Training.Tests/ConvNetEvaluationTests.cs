using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Training.Tests;

public sealed class ConvNetEvaluationTests
{
    [Fact]
    public void Convnet_has_the_agreed_layer_names_and_shapes()
    {
        var w = RecipeCatalog.CreateInitialWeights("convnet", [1, 28, 28], 10, 1);

        Assert.Equal(["conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight", "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"], w.Select(t => t.Name));
        Assert.Equal([16L, 1, 3, 3], w.Single(t => t.Name == "conv1.weight").Shape);
        Assert.Equal([32L, 16, 3, 3], w.Single(t => t.Name == "conv2.weight").Shape);
        Assert.Equal([64L, 32 * 7 * 7], w.Single(t => t.Name == "fc1.weight").Shape);
        Assert.Equal([10L, 64], w.Single(t => t.Name == "fc2.weight").Shape);
        Assert.Equal("labelled-images", RecipeCatalog.DatasetKind("convnet"));
        Assert.Equal(["cawg.ai_training"], RecipeCatalog.RequiredAssertions("convnet"));
        Assert.Throws<ArgumentException>(() => RecipeCatalog.CreateInitialWeights("convnet", [1, 3, 3], 10, 1));
    }

    [Fact]
    public void Evaluation_reports_the_trainers_loss_and_an_accuracy()
    {
        using var dir = new TempDirectory();
        DatasetSynthesizer.Synthesize("classifier", dir.Path, 40, 5);
        var d = Dataset.Open(dir.Path).Descriptor;
        var weights = RecipeCatalog.CreateInitialWeights("convnet", d.SampleShape, d.Classes.Count, 3);
        int[] indices = [.. Enumerable.Range(0, 40)];

        using var set = EvaluationSet.Load("convnet", dir.Path, indices, batchSize: 7);
        var result = set.Evaluate(weights);

        Assert.Equal(40, result.Samples);
        Assert.Equal(ShardTrainer.Evaluate("convnet", dir.Path, weights, indices), result.Loss, 5);
        Assert.InRange(result.Accuracy!.Value, 0, 1);
        Assert.Null(result.Psnr);
    }

    [Fact]
    public void Evaluation_of_a_denoiser_reports_psnr_from_the_mse()
    {
        using var dir = new TempDirectory();
        DatasetSynthesizer.Synthesize("denoiser", dir.Path, 12, 5);
        var d = Dataset.Open(dir.Path).Descriptor;
        var weights = RecipeCatalog.CreateInitialWeights("denoiser", d.SampleShape, 0, 3);

        using var set = EvaluationSet.Load("denoiser", dir.Path, [.. Enumerable.Range(0, 12)]);
        var result = set.Evaluate(weights);

        Assert.Null(result.Accuracy);
        Assert.Equal(10 * Math.Log10(1 / result.Loss), result.Psnr!.Value, 9);
    }

    [Fact]
    public void Local_training_evaluates_after_every_round_and_learns()
    {
        using var dir = new TempDirectory();
        DatasetSynthesizer.Synthesize("classifier", dir.Path, 120, 9);
        var d = Dataset.Open(dir.Path).Descriptor;
        var reports = new List<LocalRoundReport>();

        var weights = LocalTrainer.Run(new LocalTrainingRequest
        {
            Recipe = "convnet",
            DatasetPath = dir.Path,
            TrainIndices = [.. Enumerable.Range(0, 90)],
            EvaluationIndices = [.. Enumerable.Range(90, 30)],
            InitialWeights = RecipeCatalog.CreateInitialWeights("convnet", d.SampleShape, d.Classes.Count, 1),
            Rounds = 3,
            EpochsPerRound = 2,
            BatchSize = 16,
            LearningRate = 0.003,
            Seed = 4,
            Device = "cpu",
        }, new Collect(reports), CancellationToken.None);

        Assert.Equal([1, 2, 3], reports.Select(r => r.Round));
        Assert.All(reports, r => Assert.Equal(30, r.Evaluation!.Samples));
        Assert.True(reports[^1].TrainLoss < reports[0].TrainLoss, string.Join(", ", reports.Select(r => r.TrainLoss)));
        Assert.Equal(8, weights.Count);
        Assert.All(weights, t => Assert.Equal(TensorDType.F32, t.DType));
    }

    private sealed class Collect(List<LocalRoundReport> into) : IProgress<LocalRoundReport>
    {
        public void Report(LocalRoundReport value) => into.Add(value);
    }
}
