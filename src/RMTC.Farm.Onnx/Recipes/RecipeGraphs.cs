using RMTC.Farm.Onnx.Graph;

namespace RMTC.Farm.Onnx.Recipes;

/// <summary>The ONNX graph of every exportable recipe, by recipe name.</summary>
public static class RecipeGraphs
{
    private static readonly IRecipeGraph[] All = [new DenoiserGraph(), new ClassifierGraph(), new ConvNetGraph(), new HdrDenoiserGraph()];

    /// <summary>Recipes that can be exported.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(g => g.Recipe).ToArray();

    /// <summary>The graph of <paramref name="recipe"/>; throws <see cref="OnnxExportException"/> naming those known.</summary>
    public static IRecipeGraph Get(string recipe) =>
        All.FirstOrDefault(g => string.Equals(g.Recipe, recipe, StringComparison.Ordinal))
            ?? throw new OnnxExportException($"recipe '{recipe}' has no ONNX graph yet (exportable: {string.Join(", ", All.Select(g => g.Recipe))}); add an IRecipeGraph for it in src/RMTC.Farm.Onnx/Recipes/");
}
