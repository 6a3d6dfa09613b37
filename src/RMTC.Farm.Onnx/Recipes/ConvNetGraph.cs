using RMTC.Farm.Onnx.Graph;

namespace RMTC.Farm.Onnx.Recipes;

/// <summary>
/// <c>convnet</c>: (conv+ReLU+maxpool2) twice, flatten, linear+ReLU, linear → logits [batch, classes]. The first
/// linear layer's width depends on the image size, so height and width are fixed at the dataset's sample shape.
/// </summary>
public sealed class ConvNetGraph : IRecipeGraph
{
    public string Recipe => "convnet";

    public void Describe(OnnxGraphBuilder graph, int[] sampleShape, int classes)
    {
        var input = graph.Input(OnnxFormat.InputName, OnnxDim.Dynamic("batch"), OnnxDim.Fixed(sampleShape[0]), OnnxDim.Fixed(sampleShape[1]), OnnxDim.Fixed(sampleShape[2]));
        var h = graph.MaxPool(graph.Relu(graph.Conv(input, "conv1", pad: 1)), 2);
        h = graph.MaxPool(graph.Relu(graph.Conv(h, "conv2", pad: 1)), 2);
        h = graph.Relu(graph.Linear(graph.Flatten(h), "fc1"));
        graph.Output(graph.Linear(h, "fc2"), OnnxFormat.LogitsOutputName);
    }
}
