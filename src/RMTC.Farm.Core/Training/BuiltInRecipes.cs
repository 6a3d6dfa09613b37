using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Core.Training;

/// <summary>What the farm must know of a built-in recipe without loading a model: its name, the data it trains on, and whether its model generates content.</summary>
/// <param name="Name">The recipe's name in a job spec, e.g. <c>denoiser</c>.</param>
/// <param name="DatasetKind">The dataset kind it trains on (<see cref="DatasetKinds"/>).</param>
/// <param name="Generative">True when its model generates content (then a dataset must also allow <see cref="CawgAssertions.AiGenerativeTraining"/>).</param>
public sealed record RecipeFacts(string Name, string DatasetKind, bool Generative);

/// <summary>
/// The built-in recipes as facts, for whoever parses and checks job specs (the coordinator, the CLI) without TorchSharp.
/// The models themselves live in <c>RMTC.Farm.Training</c>, whose catalog reads its names and kinds from here.
/// </summary>
public static class BuiltInRecipes
{
    /// <summary>The recipes in catalog order.</summary>
    public static IReadOnlyList<RecipeFacts> All { get; } =
    [
        new("denoiser", DatasetKinds.ImagePairs, Generative: true),
        new("classifier", DatasetKinds.LabelledImages, Generative: false),
        new("convnet", DatasetKinds.LabelledImages, Generative: false),
        new("hdr-denoiser", DatasetKinds.RenderPairs, Generative: true),
    ];

    /// <summary>Known recipe names, e.g. <c>denoiser</c>, <c>classifier</c>, <c>convnet</c>, <c>hdr-denoiser</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(r => r.Name).ToArray();

    /// <summary>The recipe by name; throws <see cref="ArgumentException"/> naming the known recipes.</summary>
    public static RecipeFacts Get(string recipe)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        return All.FirstOrDefault(r => string.Equals(r.Name, recipe, StringComparison.Ordinal))
            ?? throw new ArgumentException($"unknown recipe '{recipe}' (known recipes: {string.Join(", ", Names)})", nameof(recipe));
    }

    /// <summary>The dataset kind a recipe trains on (<c>image-pairs</c>, <c>labelled-images</c> or <c>render-pairs</c>).</summary>
    public static string DatasetKind(string recipe) => Get(recipe).DatasetKind;

    /// <summary>
    /// The CAWG assertions a dataset must allow for this recipe to train on it: <c>cawg.ai_training</c> always, plus
    /// <c>cawg.ai_generative_training</c> for recipes whose models generate content (the denoiser generates images;
    /// the classifiers only label them).
    /// </summary>
    public static IReadOnlyList<string> RequiredAssertions(string recipe) =>
        Get(recipe).Generative
            ? [CawgAssertions.AiTraining, CawgAssertions.AiGenerativeTraining]
            : [CawgAssertions.AiTraining];
}
