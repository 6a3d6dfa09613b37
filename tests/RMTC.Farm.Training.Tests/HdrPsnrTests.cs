using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Tests;

/// <summary>PSNR of render models: on the tone-mapped radiance (Reinhard, then a 2.2 gamma), over the whole held-out split.</summary>
public class HdrPsnrTests
{
    [Fact]
    public void The_tone_map_takes_radiance_of_any_brightness_into_0_to_1_without_clipping()
    {
        Assert.Equal(0, Psnr.ToneMap(0.0));
        Assert.Equal(0, Psnr.ToneMap(-3.0));
        Assert.Equal(Math.Pow(0.5, 1 / 2.2), Psnr.ToneMap(1.0), 12);
        Assert.True(Psnr.ToneMap(1e4) is > 0.9999 and < 1);
        Assert.True(Psnr.ToneMap(50.0) > Psnr.ToneMap(20.0), "highlights stay apart");
        using var scope = NewDisposeScope();
        var values = new[] { -1f, 0f, 0.01f, 0.5f, 1f, 50f, 1e6f };
        var mapped = Psnr.ToneMap(tensor(values)).data<float>().ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(Psnr.ToneMap(values[i]), mapped[i], 5);
        }

        Assert.Equal(20, Psnr.FromMse(0.01), 12);
    }

    [Fact]
    public void Held_out_evaluation_of_a_render_model_reports_the_PSNR_of_its_tone_mapped_output()
    {
        using var dir = new TempDirectory();
        var data = dir.Combine("data");
        RenderPairsFixture.Write(data, trainFrames: 2, testFrames: 2);
        var dataset = Dataset.Open(data);
        var test = TrainingData.Select(dataset, null).Evaluation.Select(a => dataset.Samples.ToList().IndexOf(a)).ToArray();

        // An untrained hdr-denoiser returns its noisy beauty (the residual starts at zero), so its PSNR is the noisy input's,
        // computed here by hand from the samples: one MSE over every pixel and channel of the split.
        double squared = 0;
        long count = 0;
        foreach (var i in test)
        {
            var tensors = Safetensors.ReadFile(Path.Combine(data, dataset.Samples[i].RelativePath)).Tensors;
            var input = tensors.Single(t => t.Name == DatasetKinds.InputTensor).AsFloat32().ToArray();
            var target = tensors.Single(t => t.Name == DatasetKinds.TargetTensor).AsFloat32().ToArray();
            for (int v = 0; v < target.Length; v++)
            {
                var d = Psnr.ToneMap(input[v]) - Psnr.ToneMap(target[v]);
                squared += d * d;
            }

            count += target.Length;
        }

        var expected = 10 * Math.Log10(count / squared);
        using var set = EvaluationSet.Load("hdr-denoiser", data, test, batchSize: 3);
        var result = set.Evaluate(RecipeCatalog.CreateInitialWeights("hdr-denoiser", dataset.Descriptor.SampleShape, 0, 4));
        Assert.Null(result.Accuracy);
        Assert.NotNull(result.Psnr);
        Assert.Equal(expected, result.Psnr!.Value, 3);
        Assert.InRange(expected, 5, 60);

        // A model that does something else scores differently: PSNR follows the output, not the loss alone.
        var weights = RecipeCatalog.CreateInitialWeights("hdr-denoiser", dataset.Descriptor.SampleShape, 0, 4)
            .Select(t => t.Name == "conv4.bias" ? NamedTensor.FromFloats(t.Name, t.Shape, [0.5f, 0.5f, 0.5f]) : t).ToList();
        Assert.True(set.Evaluate(weights).Psnr < expected - 1);
    }
}
