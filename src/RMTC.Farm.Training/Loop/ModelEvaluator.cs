using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Recipes;
using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Loop;

/// <summary>
/// A recipe's TorchSharp model in eval mode with given weights, for forward passes on the CPU: the reference an ONNX
/// export is checked against, and the TorchSharp side of the inference benchmark.
/// </summary>
public sealed class ModelEvaluator : IDisposable
{
    private readonly RecipeModel _model;

    /// <summary>Builds <paramref name="recipe"/>'s model for samples of <paramref name="sampleShape"/> and loads <paramref name="weights"/>.</summary>
    public ModelEvaluator(string recipe, int[] sampleShape, int classes, IReadOnlyList<NamedTensor> weights)
    {
        _model = RecipeCatalog.Get(recipe).CreateModel(sampleShape, classes);
        TorchWeights.Load(_model, weights);
        _model.eval();
    }

    /// <summary>The model's output for a float32 input of <paramref name="shape"/> (row-major), with the output's shape.</summary>
    public (float[] Values, long[] Shape) Forward(float[] input, long[] shape)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = tensor(input, shape, ScalarType.Float32);
        var y = _model.forward(x).contiguous();
        return (y.data<float>().ToArray(), y.shape);
    }

    public void Dispose() => _model.Dispose();
}
