using System.Diagnostics;
using System.Text.Json;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;
using Xunit.Abstractions;

namespace RMTC.Farm.Training.Tests;

public class ShardTrainerTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("denoiser", 0.01)]
    [InlineData("classifier", 0.01)]
    public void Training_a_shard_lowers_the_loss_and_writes_matching_weights(string recipe, double learningRate)
    {
        using var dir = new TempDirectory();
        var data = dir.Combine("data");
        var clock = Stopwatch.StartNew();
        DatasetSynthesizer.Synthesize(recipe, data, 640, 11);
        var synthSeconds = clock.Elapsed.TotalSeconds;
        var dataset = Dataset.Open(data);
        var initial = RecipeCatalog.CreateInitialWeights(recipe, dataset.Descriptor.SampleShape, dataset.Descriptor.Classes.Count, 3);
        var initialPath = dir.Combine("initial.safetensors");
        Safetensors.WriteFile(initialPath, initial);

        var indices = Enumerable.Range(0, 600).ToArray();
        var task = new ShardTask
        {
            RunId = "run-1",
            Round = 2,
            Shard = 1,
            Recipe = recipe,
            DatasetPath = data,
            SampleIndices = indices,
            InitialWeightsPath = initialPath,
            Seed = 99,
            Epochs = 2,
            BatchSize = 32,
            LearningRate = learningRate,
            OutputPath = dir.Combine("out", "weights.safetensors"),
            ResultPath = dir.Combine("out", "result.json"),
            Device = "cpu",
            Threads = 2,
        };
        var reports = new List<TrainingProgress>();
        var result = ShardTrainer.Run(task, new SyncProgress<TrainingProgress>(reports.Add), CancellationToken.None);

        output.WriteLine($"{recipe}: synth {synthSeconds:F2}s, train {result.Seconds:F2}s, epoch losses {string.Join(", ", result.EpochLosses)}");
        Assert.Equal(600, result.Samples);
        Assert.Equal(2, result.EpochLosses.Length);
        Assert.Equal(result.EpochLosses[^1], result.FinalLoss);
        Assert.Equal("cpu", result.Device);
        Assert.True(result.EpochLosses[1] < result.EpochLosses[0], string.Join(", ", result.EpochLosses));

        // Progress: a few reports per epoch, ending with every sample seen.
        Assert.InRange(reports.Count, 4, 12);
        Assert.Equal(1200, reports[^1].SamplesSeen);
        Assert.Equal(1200, reports[^1].SamplesTotal);
        Assert.Equal(2, reports[^1].Epoch);

        // Result weights: same names, shapes and dtypes as the initial weights, with run metadata.
        var (trained, metadata) = Safetensors.ReadFile(task.OutputPath);
        Assert.Equal(initial.Select(t => (t.Name, t.DType, string.Join(",", t.Shape))), trained.Select(t => (t.Name, t.DType, string.Join(",", t.Shape))));
        Assert.Equal(recipe, metadata["recipe"]);
        Assert.Equal("run-1", metadata["run"]);
        Assert.Equal("2", metadata["round"]);
        Assert.Equal("1", metadata["shard"]);

        // The trained weights are better than the initial ones on the shard's samples.
        var before = ShardTrainer.Evaluate(recipe, data, initial, indices);
        var after = ShardTrainer.Evaluate(recipe, data, trained, indices);
        output.WriteLine($"{recipe}: eval loss {before:F5} -> {after:F5}");
        Assert.True(after < before * 0.8, $"{before} -> {after}");

        // Summary JSON, camelCase.
        using var json = JsonDocument.Parse(File.ReadAllText(task.ResultPath));
        Assert.Equal(600, json.RootElement.GetProperty("samples").GetInt64());
        Assert.Equal(result.FinalLoss, json.RootElement.GetProperty("finalLoss").GetDouble());
        Assert.Equal("cpu", json.RootElement.GetProperty("device").GetString());
    }

    [Fact]
    public void Cancellation_stops_between_batches_and_writes_nothing()
    {
        using var dir = new TempDirectory();
        var task = SmallClassifierTask(dir);
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress<TrainingProgress>(_ => cts.Cancel());
        Assert.ThrowsAny<OperationCanceledException>(() => ShardTrainer.Run(task, progress, cts.Token));
        Assert.False(File.Exists(task.OutputPath));
        Assert.False(File.Exists(task.ResultPath));
    }

    [Fact]
    public void Initial_weights_of_another_model_are_refused()
    {
        using var dir = new TempDirectory();
        var task = SmallClassifierTask(dir);
        Safetensors.WriteFile(task.InitialWeightsPath, RecipeCatalog.CreateInitialWeights("classifier", [1, 16, 16], 7, 1));
        var e = Assert.Throws<WeightsMismatchException>(() => ShardTrainer.Run(task, null, CancellationToken.None));
        Assert.Contains("fc.weight", e.Message);
    }

    [Fact]
    public void A_recipe_refuses_a_dataset_of_the_other_kind()
    {
        using var dir = new TempDirectory();
        var task = SmallClassifierTask(dir) with { Recipe = "denoiser" };
        var e = Assert.Throws<DatasetException>(() => ShardTrainer.Run(task, null, CancellationToken.None));
        Assert.Contains("image-pairs", e.Message);
    }

    [Fact]
    public void Sample_indices_out_of_range_are_refused()
    {
        using var dir = new TempDirectory();
        var task = SmallClassifierTask(dir) with { SampleIndices = [0, 1, 500] };
        Assert.Contains("500", Assert.Throws<DatasetException>(() => ShardTrainer.Run(task, null, CancellationToken.None)).Message);
    }

    private static ShardTask SmallClassifierTask(TempDirectory dir)
    {
        var data = dir.Combine("data");
        DatasetSynthesizer.Synthesize("classifier", data, 64, 1);
        var initialPath = dir.Combine("initial.safetensors");
        Safetensors.WriteFile(initialPath, RecipeCatalog.CreateInitialWeights("classifier", [1, 16, 16], 4, 1));
        return new ShardTask
        {
            RunId = "run-c",
            Round = 0,
            Shard = 0,
            Recipe = "classifier",
            DatasetPath = data,
            SampleIndices = Enumerable.Range(0, 64).ToArray(),
            InitialWeightsPath = initialPath,
            Seed = 1,
            Epochs = 3,
            BatchSize = 8,
            OutputPath = dir.Combine("out.safetensors"),
            ResultPath = dir.Combine("result.json"),
            Device = "cpu",
        };
    }

    /// <summary>Reports synchronously on the trainer's thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
