using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;
using Xunit.Abstractions;

namespace RMTC.Farm.Training.Tests;

/// <summary>
/// Render-first preemption on real TorchSharp: a shard that yields writes a checkpoint (weights, Adam state, position),
/// and resuming it, once or twice, ends with exactly the weights and losses of an uninterrupted attempt.
/// </summary>
public class ShardCheckpointTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("classifier", 150)] // mid-epoch 2 (100 samples, batches of 16: 7 per epoch)
    [InlineData("denoiser", 100)]   // exactly at the end of epoch 1: resumes at epoch 2, batch 0
    [InlineData("convnet", 40)]     // inside epoch 1
    public void A_shard_preempted_and_resumed_ends_bit_for_bit_where_an_uninterrupted_one_does(string recipe, long yieldAfterSamples)
    {
        using var dir = new TempDirectory();
        var task = Task(dir, recipe);

        var whole = ShardTrainer.Run(task with { OutputPath = dir.Combine("whole.safetensors"), ResultPath = dir.Combine("whole.json") }, null, CancellationToken.None);

        // First attempt: yields once the trainer has reported this many samples (the stop comes before the next batch).
        var checkpoint1 = dir.Combine("checkpoint-1.safetensors");
        var first = Assert.Throws<ShardYieldedException>(() => RunUntil(task with { CheckpointPath = checkpoint1 }, yieldAfterSamples));
        Assert.Equal(checkpoint1, first.CheckpointPath);
        Assert.True(File.Exists(checkpoint1));
        Assert.InRange(first.Report.SamplesSeen, yieldAfterSamples, yieldAfterSamples + 2 * task.BatchSize);
        Assert.Equal(300, first.Report.SamplesTotal);
        var position = ShardCheckpoint.TryReadPosition(checkpoint1)!;
        Assert.Equal(first.Report.Epoch - 1, position.Epoch);
        Assert.Equal(first.Report.BatchesDone, position.Batch);

        // Second attempt (another agent, in practice): resumes, and is preempted again further on.
        var checkpoint2 = dir.Combine("checkpoint-2.safetensors");
        var second = Assert.Throws<ShardYieldedException>(() =>
            RunUntil(task with { ResumeCheckpointPath = checkpoint1, CheckpointPath = checkpoint2 }, first.Report.SamplesSeen + 50));
        Assert.True(second.Report.SamplesSeen > first.Report.SamplesSeen);

        // Third attempt runs to the end.
        var resumed = ShardTrainer.Run(task with { ResumeCheckpointPath = checkpoint2 }, null, CancellationToken.None);

        output.WriteLine($"{recipe}: yielded at {first.Report.SamplesSeen} and {second.Report.SamplesSeen} of 300 samples; losses {string.Join(", ", resumed.EpochLosses)}");
        Assert.Equal(whole.EpochLosses, resumed.EpochLosses);
        var expected = Safetensors.ReadFile(dir.Combine("whole.safetensors")).Tensors;
        var actual = Safetensors.ReadFile(task.OutputPath).Tensors;
        Assert.Equal(expected.Select(t => t.Name), actual.Select(t => t.Name));
        for (var i = 0; i < expected.Count; i++)
        {
            // Exact: same batches in the same order from the same weights and optimiser state, on the same threads.
            Assert.True(expected[i].Data.AsSpan().SequenceEqual(actual[i].Data), $"{recipe}: tensor {expected[i].Name} differs after resuming");
        }
    }

    [Fact]
    public void A_yield_without_a_checkpoint_path_writes_nothing_and_says_where_it_stood()
    {
        using var dir = new TempDirectory();
        var task = Task(dir, "classifier");
        var e = Assert.Throws<ShardYieldedException>(() => RunUntil(task, 0));
        Assert.Null(e.CheckpointPath);
        Assert.Equal(new ShardYieldReport(1, 0, 0, 300), e.Report);
        Assert.False(File.Exists(task.OutputPath));
    }

    [Fact]
    public void A_checkpoint_of_another_shard_is_refused_with_the_field_named()
    {
        using var dir = new TempDirectory();
        var task = Task(dir, "classifier");
        var checkpoint = dir.Combine("checkpoint.safetensors");
        Assert.Throws<ShardYieldedException>(() => RunUntil(task with { CheckpointPath = checkpoint }, 20));

        var e = Assert.Throws<WeightsMismatchException>(() => ShardTrainer.Run(task with { Shard = 4, ResumeCheckpointPath = checkpoint }, null, CancellationToken.None));
        Assert.Contains("shard '0'", e.Message);
        Assert.Contains("shard '4'", e.Message);
        e = Assert.Throws<WeightsMismatchException>(() => ShardTrainer.Run(task with { ResumeCheckpointPath = task.InitialWeightsPath }, null, CancellationToken.None));
        Assert.Contains("not a shard checkpoint", e.Message);
    }

    /// <summary>Runs <paramref name="task"/>, asking it to yield once it reported at least <paramref name="samples"/> samples.</summary>
    private static ShardResult RunUntil(ShardTask task, long samples)
    {
        using var yieldNow = new CancellationTokenSource();
        if (samples == 0)
        {
            yieldNow.Cancel();
        }

        var progress = new SyncProgress<TrainingProgress>(p =>
        {
            if (p.SamplesSeen >= samples)
            {
                yieldNow.Cancel();
            }
        });
        return ShardTrainer.Run(task, progress, CancellationToken.None, yieldNow.Token);
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    private static ShardTask Task(TempDirectory dir, string recipe)
    {
        var data = dir.Combine("data");
        DatasetSynthesizer.Synthesize(recipe, data, 120, 5);
        var descriptor = Dataset.ReadDescriptor(data);
        var initialPath = dir.Combine("initial.safetensors");
        Safetensors.WriteFile(initialPath, RecipeCatalog.CreateInitialWeights(recipe, descriptor.SampleShape, descriptor.Classes.Count, 2));
        return new ShardTask
        {
            RunId = "run-p",
            Round = 1,
            Shard = 0,
            Recipe = recipe,
            DatasetPath = data,
            SampleIndices = Enumerable.Range(0, 100).ToArray(),
            InitialWeightsPath = initialPath,
            Seed = 17,
            Epochs = 3,
            BatchSize = 16,
            LearningRate = 0.01,
            OutputPath = dir.Combine("out", "weights.safetensors"),
            ResultPath = dir.Combine("out", "result.json"),
            Device = "cpu",
            Threads = 1,
        };
    }
}
