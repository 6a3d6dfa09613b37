using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Tests;

/// <summary><c>local.augment: flip-rotate</c>: the square's 8 orientations, input and target alike, drawn from the seed.</summary>
public sealed class FlipRotateTests
{
    [Fact]
    public void The_eight_orientations_are_the_eight_symmetries_of_the_square()
    {
        using var scope = NewDisposeScope();
        var image = arange(9, ScalarType.Float32).reshape(1, 1, 3, 3);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var o = 0; o < 8; o++)
        {
            var turned = FlipRotate.Apply(image, o);
            var values = turned.data<float>().ToArray();
            Assert.True(seen.Add(string.Join(",", values)), $"orientation {o} repeats an earlier one");
            // A symmetry moves pixels, never changes them: the centre stays put and corners stay corners.
            Assert.Equal(4f, values[4]);
            Assert.Equal(new[] { 0f, 2f, 6f, 8f }, new[] { values[0], values[2], values[6], values[8] }.Order().ToArray());
        }

        Assert.Same(image, FlipRotate.Apply(image, 0));
        var mirrored = FlipRotate.Apply(image, 4);
        Assert.Equal(new float[] { 2, 1, 0, 5, 4, 3, 8, 7, 6 }, mirrored.data<float>().ToArray());
    }

    [Fact]
    public void Input_and_target_stay_aligned_pixel_for_pixel()
    {
        using var scope = NewDisposeScope();
        // A target that is a pixel-wise function of the input's first three channels (as a clean render is of its noisy one,
        // pixel by pixel): after turning both, it is still that function of the turned input.
        var input = rand(new long[] { 2, 9, 6, 6 }, generator: manual_seed(5));
        var target = (input.narrow(1, 0, 3) * 2) + 1;
        for (var o = 0; o < 8; o++)
        {
            var x = FlipRotate.Apply(input, o);
            var y = FlipRotate.Apply(target, o);
            Assert.True(y.allclose((x.narrow(1, 0, 3) * 2) + 1), $"orientation {o} moved the target apart from its input");
        }
    }

    [Fact]
    public void The_orientation_is_a_function_of_seed_epoch_and_batch_and_covers_all_eight()
    {
        var first = Enumerable.Range(0, 800).Select(b => FlipRotate.Orientation(17, 3, b)).ToArray();
        Assert.Equal(first, Enumerable.Range(0, 800).Select(b => FlipRotate.Orientation(17, 3, b)).ToArray());
        Assert.NotEqual(first, Enumerable.Range(0, 800).Select(b => FlipRotate.Orientation(18, 3, b)).ToArray());
        Assert.NotEqual(first, Enumerable.Range(0, 800).Select(b => FlipRotate.Orientation(17, 4, b)).ToArray());
        Assert.All(Enumerable.Range(0, 8), o => Assert.InRange(first.Count(x => x == o), 60, 140));
    }

    [Fact]
    public void A_shard_with_flip_rotate_trains_the_same_every_time_and_differently_from_one_without()
    {
        using var dir = new TempDirectory();
        var task = SmallDenoiserTask(dir);
        Weights(task with { Augment = SampleAugmentations.FlipRotate }, dir, "a", out var a);
        Weights(task with { Augment = SampleAugmentations.FlipRotate }, dir, "b", out var b);
        Weights(task, dir, "plain", out var plain);
        Assert.Equal(Bytes(a), Bytes(b));
        Assert.NotEqual(Bytes(a), Bytes(plain));
    }

    [Fact]
    public void Flip_rotate_on_labels_and_unknown_augmentations_are_refused()
    {
        using var dir = new TempDirectory();
        var data = dir.Combine("classes");
        DatasetSynthesizer.Synthesize("classifier", data, 16, 1);
        var initialPath = dir.Combine("classifier.safetensors");
        Safetensors.WriteFile(initialPath, RecipeCatalog.CreateInitialWeights("classifier", [1, 16, 16], 4, 1));
        var task = SmallDenoiserTask(dir) with
        {
            Recipe = "classifier", DatasetPath = data, InitialWeightsPath = initialPath, SampleIndices = Enumerable.Range(0, 16).ToArray(),
            Augment = SampleAugmentations.FlipRotate,
        };
        var e = Assert.Throws<ArgumentException>(() => ShardTrainer.Run(task, null, CancellationToken.None));
        Assert.Contains("targets are labels: remove `augment`", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<ArgumentException>(() => ShardTrainer.Run(SmallDenoiserTask(dir) with { Augment = "mirror" }, null, CancellationToken.None));
        Assert.Contains("unknown augmentation 'mirror' (use none or flip-rotate)", e.Message, StringComparison.Ordinal);
    }

    private static void Weights(ShardTask task, TempDirectory dir, string name, out IReadOnlyList<NamedTensor> weights)
    {
        var t = task with { OutputPath = dir.Combine(name, "w.safetensors"), ResultPath = dir.Combine(name, "r.json") };
        ShardTrainer.Run(t, null, CancellationToken.None);
        weights = Safetensors.ReadFile(t.OutputPath).Tensors;
    }

    private static byte[] Bytes(IReadOnlyList<NamedTensor> weights) => weights.SelectMany(t => t.Data.ToArray()).ToArray();

    private static ShardTask SmallDenoiserTask(TempDirectory dir)
    {
        var data = dir.Combine("pairs");
        if (!Directory.Exists(data))
        {
            DatasetSynthesizer.Synthesize("denoiser", data, 24, 2);
        }

        var descriptor = RMTC.Farm.Core.Datasets.Dataset.ReadDescriptor(data);
        var initialPath = dir.Combine("initial.safetensors");
        Safetensors.WriteFile(initialPath, RecipeCatalog.CreateInitialWeights("denoiser", descriptor.SampleShape, 0, 3));
        return new ShardTask
        {
            RunId = "run-f",
            Round = 1,
            Shard = 0,
            Recipe = "denoiser",
            DatasetPath = data,
            SampleIndices = Enumerable.Range(0, 24).ToArray(),
            InitialWeightsPath = initialPath,
            Seed = 7,
            Epochs = 1,
            BatchSize = 4,
            LearningRate = 0.01,
            OutputPath = dir.Combine("out.safetensors"),
            ResultPath = dir.Combine("result.json"),
            Device = "cpu",
            Threads = 1,
        };
    }
}
