using RMTC.Farm.Onnx.Graph;

namespace RMTC.Farm.Onnx.Recipes;

/// <summary>
/// <c>classifier</c>: conv+ReLU+maxpool2, conv+ReLU, global mean, linear → logits [batch, classes]. The global mean
/// makes any height and width of at least 2 valid, so those stay dynamic too.
/// </summary>
public sealed class ClassifierGraph : IRecipeGraph
{
    public string Recipe => "classifier";

    public void Describe(OnnxGraphBuilder graph, int[] sampleShape, int classes)
    {
        var input = graph.Input(OnnxFormat.InputName, OnnxDim.Dynamic("batch"), OnnxDim.Fixed(sampleShape[0]), OnnxDim.Dynamic("height"), OnnxDim.Dynamic("width"));
        var h = graph.MaxPool(graph.Relu(graph.Conv(input, "conv1", pad: 1)), 2);
        h = graph.Relu(graph.Conv(h, "conv2", pad: 1));
        var pooled = graph.Flatten(graph.GlobalAveragePool(h));
        graph.Output(graph.Linear(pooled, "fc"), OnnxFormat.LogitsOutputName);
    }
}
