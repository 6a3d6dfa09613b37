using RMTC.Farm.Onnx.Graph;

namespace RMTC.Farm.Onnx.Recipes;

/// <summary>
/// <c>hdr-denoiser</c>: linear radiance in, linear radiance out, the HDR transform inside the graph. The beauty (the
/// input's first three channels) becomes log(1 + max(x, 0)) and joins the feature channels (albedo, normal, ...); three
/// 3×3 convolutions (dilations 1, 2, 4; ReLU after each) and a fourth on their features beside that input predict a
/// residual in log space; the output is
/// max(exp(y) − 1, 0). Any batch, height and width.
/// </summary>
public sealed class HdrDenoiserGraph : IRecipeGraph
{
    /// <summary>Channels of the beauty at the front of the input (and of the output).</summary>
    public const int BeautyChannels = 3;

    public string Recipe => "hdr-denoiser";

    public void Describe(OnnxGraphBuilder graph, int[] sampleShape, int classes)
    {
        var channels = sampleShape[0];
        var input = graph.Input(OnnxFormat.InputName, OnnxDim.Dynamic("batch"), OnnxDim.Fixed(channels), OnnxDim.Dynamic("height"), OnnxDim.Dynamic("width"));
        var beauty = graph.Log(graph.Add(graph.Relu(graph.Slice(input, 1, 0, BeautyChannels)), graph.Constant(1f)));
        var x = channels > BeautyChannels ? graph.Concat(1, beauty, graph.Slice(input, 1, BeautyChannels, channels)) : beauty;
        var h = graph.Relu(graph.Conv(x, "conv1", pad: 1));
        h = graph.Relu(graph.Conv(h, "conv2", pad: 2, stride: 1, dilation: 2));
        h = graph.Relu(graph.Conv(h, "conv3", pad: 4, stride: 1, dilation: 4));
        var y = graph.Add(beauty, graph.Conv(graph.Concat(1, h, x), "conv4", pad: 1));
        graph.Output(graph.Relu(graph.Sub(graph.Exp(y), graph.Constant(1f))), OnnxFormat.ImageOutputName);
    }
}
