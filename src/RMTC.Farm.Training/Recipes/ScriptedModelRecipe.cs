using RMTC.Farm.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Recipes;

/// <summary>
/// A model written in PyTorch and saved as TorchScript, trained through the same <see cref="Recipe"/> abstraction as the
/// built-in recipes: <see cref="CreateModel"/> loads the file (its own state is the module's parameters and buffers as
/// saved), and the loss is the one the spec names for its task.
/// </summary>
internal sealed class ScriptedModelRecipe : Recipe
{
    /// <summary>The recipe name a scripted model trains under (in checkpoints and result metadata).</summary>
    public const string RecipeName = "torchscript";

    private readonly ScriptedModel _model;

    public ScriptedModelRecipe(ScriptedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!ScriptedModelTasks.All.Contains(model.Task))
        {
            throw new ArgumentException($"model {model.Path}: unknown task '{model.Task}' (use {string.Join(" or ", ScriptedModelTasks.All)})", nameof(model));
        }

        if (!ScriptedModelTasks.LossesFor(model.Task).Contains(model.Loss))
        {
            throw new ArgumentException(
                $"model {model.Path}: loss '{model.Loss}' does not fit task {model.Task} (use {string.Join(" or ", ScriptedModelTasks.LossesFor(model.Task))})", nameof(model));
        }

        _model = model;
    }

    /// <summary>The file and task this recipe trains.</summary>
    public ScriptedModel Model => _model;

    public override string Name => RecipeName;

    public override string Description => $"TorchScript model {_model.Path} ({_model.Task}; {_model.Loss})";

    public override string DatasetKind => _model.Task;

    /// <summary>Loads the TorchScript file; the sample shape and class count are the file's business (see <see cref="ScriptedModelCheck"/>).</summary>
    public override RecipeModel CreateModel(int[] sampleShape, int classes)
    {
        Validate(sampleShape, classes);
        return RecipeModel.Of(jit.load<Tensor, Tensor>(_model.Path));
    }

    public override Tensor Loss(Tensor output, Tensor target) => _model.Loss switch
    {
        ModelLosses.Mse => nn.functional.mse_loss(output, target),
        ModelLosses.L1 => nn.functional.l1_loss(output, target),
        _ => nn.functional.cross_entropy(output, target),
    };
}
