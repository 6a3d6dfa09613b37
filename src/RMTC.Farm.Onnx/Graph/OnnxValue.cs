namespace RMTC.Farm.Onnx.Graph;

/// <summary>A value flowing through the graph under construction (a graph input, a weight or a node output).</summary>
/// <param name="Name">The value's name in the graph.</param>
/// <param name="Shape">Its shape where the builder knows it (dynamic dimensions have <see cref="OnnxDim.Param"/>).</param>
public sealed record OnnxValue(string Name, IReadOnlyList<OnnxDim> Shape)
{
    /// <summary>Rank of the value.</summary>
    public int Rank => Shape.Count;
}
