using System.Diagnostics;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Tests;

public class HdrDenoiserTests(ITestOutputHelper output)
{
    private static readonly int[] Shape = [9, 32, 32];

    [Fact]
    public void The_recipe_is_listed_for_render_pairs_and_its_weights_are_named_by_layer()
    {
        Assert.Contains("hdr-denoiser", RecipeCatalog.Names);
        Assert.Equal("render-pairs", RecipeCatalog.DatasetKind("hdr-denoiser"));
        var w = RecipeCatalog.CreateInitialWeights("hdr-denoiser", Shape, 0, 1);
        Assert.Equal(["conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight", "conv3.bias", "conv3.weight", "conv4.bias", "conv4.weight"], w.Select(t => t.Name));
        Assert.Equal([32L, 9, 3, 3], w.Single(t => t.Name == "conv1.weight").Shape);
        Assert.Equal([3L, 32 + 9, 3, 3], w.Single(t => t.Name == "conv4.weight").Shape);
        Assert.All(w.Where(t => t.Name.StartsWith("conv4.", StringComparison.Ordinal)), t => Assert.All(t.AsFloat32().ToArray(), v => Assert.Equal(0, v)));
        Assert.Equal(Serialize(w), Serialize(RecipeCatalog.CreateInitialWeights("hdr-denoiser", Shape, 0, 1)));
        var e = Assert.Throws<ArgumentException>(() => RecipeCatalog.CreateInitialWeights("hdr-denoiser", [2, 32, 32], 0, 1));
        Assert.Contains("beauty", e.Message);
    }

    [Fact]
    public void Output_is_linear_radiance_of_three_channels_never_negative_in_eval_and_the_loss_is_stable_on_bright_values()
    {
        using var model = RecipeCatalog.Get("hdr-denoiser").CreateModel(Shape, 0);
        TorchWeights.Load(model, RecipeCatalog.CreateInitialWeights("hdr-denoiser", Shape, 0, 3));
        using var scope = NewDisposeScope();
        var x = rand(2, 9, 17, 23) * 1000;
        model.eval();
        var y = model.forward(x);
        Assert.Equal([2L, 3, 17, 23], y.shape);
        Assert.True(y.min().item<float>() >= 0);

        // A firefly of 1e4 against 1 costs under 1 in the loss (tone-mapped values lie in 0..1), not 1e8 as in an MSE on radiance.
        model.train();
        var target = ones(2, 3, 17, 23);
        var loss = RecipeCatalog.Get("hdr-denoiser").Loss(model.forward(x), target);
        var value = loss.item<float>();
        Assert.True(float.IsFinite(value) && value < 1, $"loss {value}");
        loss.backward();
        Assert.All(model.parameters(), p => Assert.True(p.grad is { } g && isfinite(g).all().item<bool>()));
    }

    [Fact]
    public void Synthesized_hdr_datasets_are_render_pairs_with_named_channels()
    {
        using var dir = new TempDirectory();
        DatasetSynthesizer.Synthesize("hdr-denoiser", dir.Path, 4, 5);
        var dataset = Dataset.Open(dir.Path);
        Assert.Equal(DatasetKinds.RenderPairs, dataset.Descriptor.Kind);
        Assert.Equal([9, 32, 32], dataset.Descriptor.SampleShape);
        Assert.Equal([3, 32, 32], dataset.Descriptor.TargetShape);
        Assert.Equal(HdrFrameSynthesizer.InputChannels, dataset.Descriptor.InputChannels);
        Assert.Equal(HdrFrameSynthesizer.Beauty, dataset.Descriptor.TargetChannels);
        var (tensors, _) = Safetensors.ReadFile(Path.Combine(dir.Path, dataset.Samples[0].RelativePath));
        Assert.True(tensors.Single(t => t.Name == "target").AsFloat32().ToArray().Max() > 2, "HDR: radiance above 1");
    }

    [Fact]
    public void A_render_pairs_descriptor_needs_a_name_for_each_input_channel()
    {
        var e = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor("name: r\nkind: render-pairs\nsample_shape: [9, 8, 8]\nrender:\n  input: [R, G, B]\n  target: [R, G, B]\n  patch: 8\n  stride: 8\n"));
        Assert.Contains("render.input", e.Message);
        Assert.Contains("9", e.Message);
        e = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor("name: r\nkind: render-pairs\nsample_shape: [3, 8, 8]\nrender: { input: [R, G, B], patch: 8, stride: 8 }\n"));
        Assert.Contains("render.target", e.Message);
        e = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor("name: r\nkind: image-pairs\nsample_shape: [3, 8, 8]\nrender:\n  input: [R, G, B]\n  target: [R, G, B]\n  patch: 8\n  stride: 8\n"));
        Assert.Contains("render-pairs", e.Message);
    }

    [Fact]
    public void Training_on_EXR_render_patches_lowers_the_loss_and_beats_the_noisy_input_on_held_out_frames()
    {
        using var dir = new TempDirectory();
        var data = dir.Combine("data");
        RenderPairsFixture.Write(data, trainFrames: 12, testFrames: 3);
        var dataset = Dataset.Open(data);
        var split = TrainingData.Select(dataset, null);
        int[] IndicesOf(IEnumerable<DatasetAsset> assets) => assets.Select(a => dataset.Samples.ToList().IndexOf(a)).ToArray();
        var train = IndicesOf(split.Train);
        var test = IndicesOf(split.Evaluation);
        Assert.Equal(48, train.Length);
        Assert.Equal(12, test.Length);

        var initial = RecipeCatalog.CreateInitialWeights("hdr-denoiser", dataset.Descriptor.SampleShape, 0, 3);
        var initialPath = dir.Combine("initial.safetensors");
        Safetensors.WriteFile(initialPath, initial);
        const int epochs = 30;
        var task = new ShardTask
        {
            RunId = "run-hdr",
            Round = 1,
            Shard = 0,
            Recipe = "hdr-denoiser",
            DatasetPath = data,
            SampleIndices = train,
            InitialWeightsPath = initialPath,
            Seed = 5,
            Epochs = epochs,
            BatchSize = 8,
            LearningRate = 0.003,
            OutputPath = dir.Combine("out", "weights.safetensors"),
            ResultPath = dir.Combine("out", "result.json"),
            Device = "cpu",
            Threads = 2,
        };
        var result = ShardTrainer.Run(task, null, CancellationToken.None);
        var steps = epochs * ((train.Length + task.BatchSize - 1) / task.BatchSize);
        output.WriteLine($"hdr-denoiser: {result.Seconds:F2}s for {steps} steps of batch {task.BatchSize} [9,32,32] ({1000 * result.Seconds / steps:F1} ms/step incl. loading); epoch losses {string.Join(", ", result.EpochLosses.Select(l => l.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)))}");
        Assert.True(result.EpochLosses[^1] < result.EpochLosses[0] * 0.8, string.Join(", ", result.EpochLosses));

        // Held-out frames: the model's loss against the clean render is well below the noisy input's.
        var trained = Safetensors.ReadFile(task.OutputPath).Tensors;
        var after = ShardTrainer.Evaluate("hdr-denoiser", data, trained, test);
        var noisy = NoisyInputLoss(data, dataset, test);
        output.WriteLine($"held-out loss (MSE, tone-mapped): noisy input {noisy:F4}, denoised {after:F4}");
        Assert.True(after < noisy * 0.6, $"denoised {after} vs noisy {noisy}");
    }

    /// <summary>The recipe's loss with the noisy beauty itself as the output: what doing nothing scores.</summary>
    private static double NoisyInputLoss(string data, Dataset dataset, int[] indices)
    {
        var recipe = RecipeCatalog.Get("hdr-denoiser");
        double sum = 0;
        foreach (var i in indices)
        {
            using var scope = NewDisposeScope();
            var tensors = Safetensors.ReadFile(Path.Combine(data, dataset.Samples[i].RelativePath)).Tensors;
            var input = tensor(tensors.Single(t => t.Name == "input").AsFloat32().ToArray(), [1, 9, 32, 32]);
            var target = tensor(tensors.Single(t => t.Name == "target").AsFloat32().ToArray(), [1, 3, 32, 32]);
            sum += recipe.Loss(input.narrow(1, 0, 3), target).item<float>();
        }

        return sum / indices.Length;
    }

    private static byte[] Serialize(IReadOnlyList<NamedTensor> tensors)
    {
        using var stream = new MemoryStream();
        Safetensors.Write(stream, tensors);
        return stream.ToArray();
    }
}
