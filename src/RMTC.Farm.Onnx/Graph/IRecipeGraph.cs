namespace RMTC.Farm.Onnx.Graph;

/// <summary>
/// The ONNX graph of one recipe's model, described with <see cref="OnnxGraphBuilder"/>. A new recipe only adds one of
/// these (and lists it in <see cref="Recipes.RecipeGraphs"/>); it must compute exactly what the TorchSharp model's
/// <c>forward</c> computes in eval mode.
/// </summary>
public interface IRecipeGraph
{
    /// <summary>The recipe's name, as in job specs (<c>denoiser</c>).</summary>
    string Recipe { get; }

    /// <summary>Adds the input, the operators and the output for samples of <paramref name="sampleShape"/> [C, H, W].</summary>
    void Describe(OnnxGraphBuilder graph, int[] sampleShape, int classes);
}
