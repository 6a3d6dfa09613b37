using Google.Protobuf;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Inference.Runtime;
using RMTC.Farm.Onnx.Export;
using RMTC.Farm.Onnx.Graph;
using static TorchSharp.torch;

namespace RMTC.Farm.Inference.Tests;

/// <summary>The builder on its own: what a recipe with fully connected layers needs, and clear errors when a description and its weights disagree.</summary>
public class GraphBuilderTests
{
    /// <summary>
    /// The shape of a small conv net with a fixed-size head: conv3x3(C->16)+ReLU+maxpool2, conv3x3(16->32)+ReLU+maxpool2,
    /// flatten, fc1 linear(32*(H/4)*(W/4) -> 64)+ReLU, fc2 linear(64 -> classes). Described here, not in the catalog.
    /// </summary>
    private sealed class ConvNetShapedGraph : IRecipeGraph
    {
        public string Recipe => "convnet-shaped";

        public void Describe(OnnxGraphBuilder graph, int[] sampleShape, int classes)
        {
            var x = graph.Input("input", OnnxDim.Dynamic("batch"), OnnxDim.Fixed(sampleShape[0]), OnnxDim.Fixed(sampleShape[1]), OnnxDim.Fixed(sampleShape[2]));
            var h = graph.MaxPool(graph.Relu(graph.Conv(x, "conv1", pad: 1)), 2);
            h = graph.MaxPool(graph.Relu(graph.Conv(h, "conv2", pad: 1)), 2);
            h = graph.Relu(graph.Linear(graph.Flatten(h), "fc1"));
            graph.Output(graph.Linear(h, "fc2"), "logits");
        }
    }

    private static IReadOnlyList<NamedTensor> ConvNetWeights(int channels, int height, int width, int classes)
    {
        var random = new Random(5);
        NamedTensor T(string name, params long[] shape)
        {
            var fanIn = shape.Length > 1 ? shape.Skip(1).Aggregate(1L, (p, d) => p * d) : 16;
            var bound = 1f / MathF.Sqrt(fanIn);
            var values = new float[shape.Aggregate(1L, (p, d) => p * d)];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = (random.NextSingle() * 2 - 1) * bound;
            }

            return NamedTensor.FromFloats(name, shape, values);
        }

        return
        [
            T("conv1.weight", 16, channels, 3, 3), T("conv1.bias", 16),
            T("conv2.weight", 32, 16, 3, 3), T("conv2.bias", 32),
            T("fc1.weight", 64, 32 * (height / 4) * (width / 4)), T("fc1.bias", 64),
            T("fc2.weight", classes, 64), T("fc2.bias", classes),
        ];
    }

    [Fact]
    public void Flatten_and_Gemm_with_a_fixed_spatial_size_match_TorchSharp_and_pass_the_checker()
    {
        int[] sample = [3, 16, 24];
        var weights = ConvNetWeights(3, 16, 24, 5);
        var provenance = ExportParityTests.Provenance("convnet-shaped", ["a", "b", "c", "d", "e"]);
        provenance.SampleShape = sample;
        var model = OnnxExporter.Build(new ConvNetShapedGraph(), weights, provenance);
        using var dir = new TempDirectory();
        var path = dir.Combine("convnet.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        Assert.Null(OnnxChecker.Check(path));

        var x = new float[3 * 3 * 16 * 24];
        var random = new Random(2);
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = random.NextSingle();
        }

        using var session = new OnnxModelSession(model.ToByteArray(), cpuOnly: true);
        var (ort, shape) = session.Run(x, [3, 3, 16, 24]);
        Assert.Equal([3L, 5], shape);

        using var scope = NewDisposeScope();
        Tensor W(string name) => tensor(weights.Single(t => t.Name == name).AsFloat32().ToArray(), weights.Single(t => t.Name == name).Shape);
        var h = nn.functional.max_pool2d(nn.functional.relu(nn.functional.conv2d(tensor(x, [3, 3, 16, 24]), W("conv1.weight"), W("conv1.bias"), padding: [1, 1])), 2);
        h = nn.functional.max_pool2d(nn.functional.relu(nn.functional.conv2d(h, W("conv2.weight"), W("conv2.bias"), padding: [1, 1])), 2);
        h = nn.functional.relu(nn.functional.linear(h.flatten(1), W("fc1.weight"), W("fc1.bias")));
        var reference = nn.functional.linear(h, W("fc2.weight"), W("fc2.bias")).contiguous().data<float>().ToArray();
        Assert.True(ExportParityTests.RelativeError(ort, reference) <= 1e-5);
    }

    [Fact]
    public void A_head_whose_input_size_does_not_match_the_sample_shape_names_the_layer()
    {
        var weights = ConvNetWeights(3, 16, 24, 5);
        var provenance = ExportParityTests.Provenance("convnet-shaped", ["a", "b", "c", "d", "e"]);
        provenance.SampleShape = [3, 32, 32];
        var e = Assert.Throws<OnnxExportException>(() => OnnxExporter.Build(new ConvNetShapedGraph(), weights, provenance));
        Assert.Contains("fc1", e.Message);
        Assert.Contains("sample shape", e.Message);
    }

    [Fact]
    public void Missing_and_unused_weights_are_named()
    {
        var weights = ConvNetWeights(3, 16, 24, 5);
        var provenance = ExportParityTests.Provenance("convnet-shaped", ["a", "b", "c", "d", "e"]);
        provenance.SampleShape = [3, 16, 24];
        var missing = Assert.Throws<OnnxExportException>(() => OnnxExporter.Build(new ConvNetShapedGraph(), weights.Where(w => w.Name != "fc2.bias").ToList(), provenance));
        Assert.Contains("fc2.bias", missing.Message);

        var extra = weights.Append(NamedTensor.FromFloats("fc3.weight", [1], [0f])).ToList();
        var unused = Assert.Throws<OnnxExportException>(() => OnnxExporter.Build(new ConvNetShapedGraph(), extra, provenance));
        Assert.Contains("fc3.weight", unused.Message);
    }

    [Fact]
    public void A_recipe_without_a_graph_says_where_to_add_one()
    {
        var e = Assert.Throws<OnnxExportException>(() => Onnx.Recipes.RecipeGraphs.Get("gan"));
        Assert.Contains("IRecipeGraph", e.Message);
        Assert.Contains("denoiser", e.Message);
    }
}
