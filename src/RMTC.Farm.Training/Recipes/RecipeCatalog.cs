using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Loop;
using TorchSharp;

namespace RMTC.Farm.Training.Recipes;

/// <summary>The recipes this build can train, by name (each model defined once).</summary>
/// <remarks>
/// Weights are always exchanged as F32 <see cref="NamedTensor"/>s named by the model's state_dict keys
/// (e.g. <c>conv1.weight</c>) and listed in ordinal order of those names (see <see cref="TorchWeights"/>).
/// </remarks>
public static class RecipeCatalog
{
    private static readonly Recipe[] All = [new DenoiserRecipe(), new ClassifierRecipe(), new ConvNetRecipe(), new HdrDenoiserRecipe()];

    /// <summary>Known recipe names, e.g. <c>denoiser</c>, <c>classifier</c>, <c>convnet</c>, <c>hdr-denoiser</c>.</summary>
    public static IReadOnlyList<string> Names => BuiltInRecipes.Names;

    /// <summary>One-line description of a recipe, for --help and errors.</summary>
    public static string Describe(string recipe) => Get(recipe).Description;

    /// <summary>The dataset kind a recipe trains on (<c>image-pairs</c>, <c>labelled-images</c> or <c>render-pairs</c>).</summary>
    public static string DatasetKind(string recipe) => BuiltInRecipes.DatasetKind(Get(recipe).Name);

    /// <summary>The CAWG assertions a dataset must allow for this recipe to train on it (see <see cref="BuiltInRecipes.RequiredAssertions"/>).</summary>
    public static IReadOnlyList<string> RequiredAssertions(string recipe) => BuiltInRecipes.RequiredAssertions(Get(recipe).Name);

    /// <summary>The CAWG assertions a dataset must allow for a TorchScript model (see <see cref="ScriptedModelTasks.RequiredAssertions"/>).</summary>
    public static IReadOnlyList<string> RequiredAssertions(ScriptedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return ScriptedModelTasks.RequiredAssertions(model.Task);
    }

    /// <summary>
    /// Deterministic initial weights of the recipe's model for a dataset of the given sample shape and class count
    /// (same seed, same bytes), as F32 tensors named by the module's parameter names.
    /// </summary>
    /// <remarks>
    /// Values come from PyTorch's default layer initialisation bounds (uniform in ±1/sqrt(fan_in) for weights and biases)
    /// drawn from this project's own SplitMix64 stream per (seed, tensor name), not from libtorch's generator: the
    /// bytes are the same on every machine, TorchSharp/libtorch version and thread, and no global torch RNG state is
    /// touched. Ordered by ordinal name. <paramref name="classes"/> is ignored by recipes without classes.
    /// </remarks>
    public static IReadOnlyList<NamedTensor> CreateInitialWeights(string recipe, int[] sampleShape, int classes, long seed)
    {
        var r = Get(recipe);
        using var model = r.CreateModel(sampleShape, classes);
        r.InitializeWeights(model, seed);
        return TorchWeights.Export(model);
    }

    /// <summary>
    /// The initial weights of a TorchScript model: its own state (parameters and buffers) as saved, F32 with integer
    /// buffers such as BatchNorm's <c>num_batches_tracked</c> as I64, ordered ordinally by name.
    /// </summary>
    public static IReadOnlyList<NamedTensor> CreateInitialWeights(ScriptedModel model) => CreateInitialState(model).Weights;

    /// <summary>
    /// <see cref="CreateInitialWeights(ScriptedModel)"/> with the names of the module's floating-point buffers
    /// (<see cref="TorchWeights.FloatBuffers"/>), which the run's initial weights record for the merge.
    /// </summary>
    public static (IReadOnlyList<NamedTensor> Weights, IReadOnlyList<string> Statistics) CreateInitialState(ScriptedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var module = torch.jit.load<torch.Tensor, torch.Tensor>(model.Path);
        return (TorchWeights.Export(module), TorchWeights.FloatBuffers(module));
    }

    /// <summary>
    /// What a shard or local run trains: the TorchScript <paramref name="model"/> when there is one, else the built-in
    /// recipe by name. Both are <see cref="Recipe"/>s, so one training loop serves them.
    /// </summary>
    internal static Recipe Resolve(string recipe, ScriptedModel? model) => model is null ? Get(recipe) : new ScriptedModelRecipe(model);

    /// <summary>The recipe by name; throws <see cref="ArgumentException"/> naming the known recipes.</summary>
    internal static Recipe Get(string recipe)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        return All.FirstOrDefault(r => string.Equals(r.Name, recipe, StringComparison.Ordinal))
            ?? throw new ArgumentException($"unknown recipe '{recipe}' (known recipes: {string.Join(", ", All.Select(r => r.Name))})", nameof(recipe));
    }
}
