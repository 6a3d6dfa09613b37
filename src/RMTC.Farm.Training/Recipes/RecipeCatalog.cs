using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Training.Recipes;

/// <summary>The recipes this build can train, by name (each model defined once).</summary>
public static class RecipeCatalog
{
    /// <summary>Known recipe names, e.g. <c>denoiser</c>, <c>classifier</c>.</summary>
    public static IReadOnlyList<string> Names => throw new NotImplementedException();

    /// <summary>One-line description of a recipe, for --help and errors.</summary>
    public static string Describe(string recipe) => throw new NotImplementedException();

    /// <summary>The dataset kind a recipe trains on (<c>image-pairs</c> or <c>labelled-images</c>).</summary>
    public static string DatasetKind(string recipe) => throw new NotImplementedException();

    /// <summary>
    /// Deterministic initial weights of the recipe's model for a dataset of the given sample shape and class count
    /// (same seed, same bytes), as F32 tensors named by the module's parameter names.
    /// </summary>
    public static IReadOnlyList<NamedTensor> CreateInitialWeights(string recipe, int[] sampleShape, int classes, long seed) => throw new NotImplementedException();
}
