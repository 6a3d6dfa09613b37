using Google.Protobuf;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Inference.Runtime;
using RMTC.Farm.Onnx.Export;
using RMTC.Farm.Onnx.Graph;
using RMTC.Farm.Onnx.Protos;
using RMTC.Farm.Training.Loop;
using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Inference.Tests;

/// <summary>
/// A TorchScript model's export: the committed torch.onnx.export templates (farm/models) filled with a trained state
/// pass the reference checker and run in ONNX Runtime like the TorchScript module's eval forward on a held-out sample;
/// de-duplicated and renamed initializers are dealt with, folded ones refused by name.
/// </summary>
public class ScriptedExportTests
{
    private const double Tolerance = 1e-4;
    private static readonly string Models = Path.Combine(RepoRoot(), "farm", "models");

    public static TheoryData<string, string, int, int, int> Examples() => new()
    {
        { "resnet_classifier_synth.pt", "resnet_classifier_synth.onnx", 1, 16, 16 },
        { "resnet_classifier.pt", "resnet_classifier.onnx", 1, 28, 28 },
        { "unet_denoiser.pt", "unet_denoiser.onnx", 3, 32, 32 },
        // Exported in eval() mode: the exporter tied equal initializers (Identity), which the filler unties.
        { "resnet_classifier_synth.pt", "testdata/resnet_synth_eval_tied.onnx", 1, 16, 16 },
    };

    [Theory]
    [MemberData(nameof(Examples))]
    public void Filled_template_passes_the_checker_and_matches_the_TorchScript_forward(string pt, string onnx, int channels, int height, int width)
    {
        var (trained, initial, module) = Train(pt, channels, height, width);
        using var _ = module;
        var model = OnnxTemplateFiller.Fill(File.ReadAllBytes(Path.Combine(Models, onnx)), trained, Provenance(), initial, onnx);

        // Every float state tensor is now an initializer holding the trained bytes (ties undone).
        var inits = model.Graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        foreach (var t in trained.Where(t => !OnnxTemplateFiller.IsDerivedStateEntry(t)))
        {
            Assert.True(inits.TryGetValue(t.Name, out var init), $"{t.Name} has no initializer");
            Assert.Equal(t.Data, init.RawData.ToByteArray());
        }

        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "BatchNormalization" && n.Attribute.Any(a => a.Name == "training_mode" && a.I != 0));
        var bytes = model.ToByteArray();
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "filled.onnx");
        File.WriteAllBytes(path, bytes);
        Assert.Null(OnnxChecker.Check(path, opset: (int)model.OpsetImport.Single(o => o.Domain.Length == 0).Version));

        var provenance = OnnxExporter.ReadProvenance(bytes);
        Assert.Equal("run-1", provenance.RunId);
        Assert.Equal("torchscript", provenance.Recipe);

        // A held-out sample: none of the training batches.
        long[] shape = [3, channels, height, width];
        var x = RandomInput(shape, seed: 99);
        using var session = new OnnxModelSession(bytes, cpuOnly: true);
        var (ort, ortShape) = session.Run(x, shape);
        var (reference, referenceShape) = Forward(module, x, shape);
        Assert.Equal(referenceShape, ortShape);
        var error = MaxRelativeError(ort, reference);
        Assert.True(error <= Tolerance, $"{onnx}: ONNX Runtime differs from the TorchScript forward by {error:E2} (relative, max-norm); limit {Tolerance:E0}");
    }

    [Fact]
    public void Renamed_initializer_is_matched_by_its_initial_value()
    {
        var (trained, initial, module) = Train("resnet_classifier_synth.pt", 1, 16, 16);
        using var _ = module;
        var template = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(Models, "resnet_classifier_synth.onnx")));
        RenameInitializer(template, "fc.weight", "onnx::Gemm_99");

        var filled = OnnxTemplateFiller.Fill(template.ToByteArray(), trained, Provenance(), initial);
        Assert.Equal(trained.Single(t => t.Name == "fc.weight").Data, filled.Graph.Initializer.Single(i => i.Name == "fc.weight").RawData.ToByteArray());
        long[] shape = [2, 1, 16, 16];
        var x = RandomInput(shape, seed: 5);
        using var session = new OnnxModelSession(filled.ToByteArray(), cpuOnly: true);
        var (ort, _) = session.Run(x, shape);
        Assert.True(MaxRelativeError(ort, Forward(module, x, shape).Values) <= Tolerance);

        // Without the initial state nothing tells which tensor it is.
        var refused = Assert.Throws<OnnxExportException>(() => OnnxTemplateFiller.Fill(template.ToByteArray(), trained, Provenance()));
        Assert.Contains("initializer 'onnx::Gemm_99' [4, 32] is no state tensor", refused.Message);
        Assert.Contains("state tensor 'fc.weight' [4, 32] has no initializer", refused.Message);
    }

    [Fact]
    public void Folded_template_is_refused_naming_the_tensors_and_the_flags()
    {
        var (trained, initial, module) = Train("resnet_classifier_synth.pt", 1, 16, 16);
        module.Dispose();
        var e = Assert.Throws<OnnxExportException>(() => OnnxTemplateFiller.Fill(
            File.ReadAllBytes(Path.Combine(Models, "testdata", "resnet_synth_folded.onnx")), trained, Provenance(), initial, "resnet_synth_folded.onnx"));
        Assert.Contains("resnet_synth_folded.onnx does not fit the trained model", e.Message);
        Assert.Matches(@"initializer 'onnx::Conv_\d+' \[16, 1, 3, 3\] is no state tensor", e.Message);
        Assert.Contains("state tensor 'bn.running_mean' [16] has no initializer", e.Message);
        Assert.Contains("state tensor 'stem.weight' [16, 1, 3, 3] has no initializer", e.Message);
        Assert.Contains("training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False", e.Message);
        Assert.DoesNotContain("num_batches_tracked", e.Message);
    }

    [Fact]
    public void State_and_template_that_differ_are_refused_naming_each_tensor()
    {
        var (trained, initial, module) = Train("resnet_classifier_synth.pt", 1, 16, 16);
        module.Dispose();
        var template = File.ReadAllBytes(Path.Combine(Models, "resnet_classifier_synth.onnx"));
        var extra = trained.Append(NamedTensor.FromFloats("head.weight", [2], [1f, 2f])).ToList();
        var e = Assert.Throws<OnnxExportException>(() => OnnxTemplateFiller.Fill(template, extra, Provenance(), initial));
        Assert.Contains("state tensor 'head.weight' [2] has no initializer", e.Message);

        var lacking = trained.Where(t => t.Name != "layer1.bn1.running_var").ToList();
        e = Assert.Throws<OnnxExportException>(() => OnnxTemplateFiller.Fill(template, lacking, Provenance(), initial));
        Assert.Contains("initializer 'layer1.bn1.running_var' [16] is no state tensor", e.Message);

        var reshaped = trained.Select(t => t.Name == "fc.bias" ? NamedTensor.FromFloats("fc.bias", [2, 2], t.AsFloat32()) : t).ToList();
        e = Assert.Throws<OnnxExportException>(() => OnnxTemplateFiller.Fill(template, reshaped, Provenance(), initial));
        Assert.Contains("state tensor 'fc.bias' has shape [2, 2], the template's initializer [4]", e.Message);

        e = Assert.Throws<OnnxExportException>(() => OnnxTemplateFiller.Fill("not onnx"u8.ToArray(), trained, Provenance(), initial, "x.onnx"));
        Assert.Contains("x.onnx", e.Message);
    }

    /// <summary>The module after a few SGD steps in training mode (weights and BatchNorm statistics moved), its state, and its state as saved.</summary>
    private static (IReadOnlyList<NamedTensor> Trained, IReadOnlyList<NamedTensor> Initial, jit.ScriptModule<Tensor, Tensor> Module) Train(string pt, int channels, int height, int width)
    {
        var module = jit.load<Tensor, Tensor>(Path.Combine(Models, pt));
        var initial = TorchWeights.Export(module);
        module.train();
        using (var optimizer = optim.SGD(module.parameters(), 0.05))
        {
            for (var step = 0; step < 4; step++)
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                long[] shape = [8, channels, height, width];
                var x = tensor(RandomInput(shape, seed: step), shape);
                var loss = module.forward(x).square().mean();
                loss.backward();
                optimizer.step();
            }
        }

        module.eval();
        return (TorchWeights.Export(module), initial, module);
    }

    private static (float[] Values, long[] Shape) Forward(jit.ScriptModule<Tensor, Tensor> module, float[] x, long[] shape)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var y = module.forward(tensor(x, shape)).contiguous();
        return (y.data<float>().ToArray(), y.shape);
    }

    private static void RenameInitializer(ModelProto model, string from, string to)
    {
        model.Graph.Initializer.Single(i => i.Name == from).Name = to;
        foreach (var node in model.Graph.Node)
        {
            for (var k = 0; k < node.Input.Count; k++)
            {
                if (node.Input[k] == from)
                {
                    node.Input[k] = to;
                }
            }
        }
    }

    private static float[] RandomInput(long[] shape, int seed)
    {
        var random = new Random(seed);
        var x = new float[shape.Aggregate(1L, (p, d) => p * d)];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = random.NextSingle() * 2f - 0.5f;
        }

        return x;
    }

    private static double MaxRelativeError(float[] actual, float[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = Math.Max(expected.Max(v => Math.Abs((double)v)), 1e-6);
        return actual.Zip(expected, (a, b) => Math.Abs((double)a - b)).Max() / scale;
    }

    private static OnnxProvenance Provenance() => new()
    {
        RunId = "run-1",
        ModelDigest = new string('a', 64),
        DatasetDigests = [new string('b', 64)],
        Datasets = ["synth 1"],
        LicenceClosure = new LicenceClosure(),
        Recipe = "torchscript",
        SampleShape = [1, 16, 16],
        RmtcVersion = "test",
    };

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RMTC.Farm.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (RMTC.Farm.sln) above " + AppContext.BaseDirectory);
    }
}
