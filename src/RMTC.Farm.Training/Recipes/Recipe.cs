using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Recipes;

/// <summary>One trainable recipe: a model, the dataset kind it eats, and its loss. Each model is defined once, here.</summary>
internal abstract class Recipe
{
    public abstract string Name { get; }

    public abstract string Description { get; }

    /// <summary><c>image-pairs</c>, <c>labelled-images</c> or <c>render-pairs</c>.</summary>
    public abstract string DatasetKind { get; }

    /// <summary>Builds the model (parameters uninitialised as far as callers care: they are always overwritten).</summary>
    public abstract RecipeModel CreateModel(int[] sampleShape, int classes);

    /// <summary>
    /// Sets the initial weights of a model from <see cref="CreateModel"/>: the seeded defaults of
    /// <see cref="Loop.WeightInit"/>; a recipe may then adjust layers whose start matters (see HdrDenoiserRecipe).
    /// </summary>
    public virtual void InitializeWeights(RecipeModel model, long seed) => Loop.WeightInit.Apply(model, seed);

    /// <summary>Mean loss of a batch; <paramref name="target"/> is F32 like the output (image-pairs) or I64 labels (labelled-images).</summary>
    public abstract Tensor Loss(Tensor output, Tensor target);

    /// <summary>Checks the arguments a model needs; throws <see cref="ArgumentException"/>.</summary>
    public virtual void Validate(int[] sampleShape, int classes)
    {
        if (sampleShape is null || sampleShape.Length != 3 || sampleShape.Any(d => d <= 0))
        {
            throw new ArgumentException(
                $"recipe {Name}: sample shape must be [channels, height, width] with positive sizes, got [{string.Join(", ", sampleShape ?? [])}]",
                nameof(sampleShape));
        }
    }
}
