using RMTC.Farm.Onnx.Graph;

namespace RMTC.Farm.Onnx.Recipes;

/// <summary><c>denoiser</c>: three 3x3 convolutions (ReLU between) predict the noise; output = input − noise. Any batch, height and width.</summary>
public sealed class DenoiserGraph : IRecipeGraph
{
    public string Recipe => "denoiser";

    public void Describe(OnnxGraphBuilder graph, int[] sampleShape, int classes)
    {
        var input = graph.Input(OnnxFormat.InputName, OnnxDim.Dynamic("batch"), OnnxDim.Fixed(sampleShape[0]), OnnxDim.Dynamic("height"), OnnxDim.Dynamic("width"));
        var h = graph.Relu(graph.Conv(input, "conv1", pad: 1));
        h = graph.Relu(graph.Conv(h, "conv2", pad: 1));
        var noise = graph.Conv(h, "conv3", pad: 1);
        graph.Output(graph.Sub(input, noise), OnnxFormat.ImageOutputName);
    }
}
