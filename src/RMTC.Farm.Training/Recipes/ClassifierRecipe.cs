using RMTC.Farm.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Recipes;

/// <summary>
/// <c>classifier</c>: a small CNN that tags patterns. conv3x3(C->8)+ReLU+maxpool2, conv3x3(8->16)+ReLU,
/// global average pool, linear(16->classes). Cross-entropy on I64 labels.
/// </summary>
internal sealed class ClassifierRecipe : Recipe
{
    public const string RecipeName = "classifier";

    public override string Name => RecipeName;

    public override string Description =>
        "small CNN that tags patterns in image patches (labelled-images: input, class index; cross-entropy)";

    public override string DatasetKind => BuiltInRecipes.DatasetKind(RecipeName);

    public override void Validate(int[] sampleShape, int classes)
    {
        base.Validate(sampleShape, classes);
        if (classes < 2)
        {
            throw new ArgumentException($"recipe {Name}: needs at least 2 classes, got {classes}", nameof(classes));
        }

        if (sampleShape[1] < 2 || sampleShape[2] < 2)
        {
            throw new ArgumentException($"recipe {Name}: samples must be at least 2x2 (max-pool 2), got {sampleShape[1]}x{sampleShape[2]}", nameof(sampleShape));
        }
    }

    public override RecipeModel CreateModel(int[] sampleShape, int classes)
    {
        Validate(sampleShape, classes);
        return RecipeModel.Of(new Model(sampleShape[0], classes));
    }

    public override Tensor Loss(Tensor output, Tensor target) => nn.functional.cross_entropy(output, target);

    /// <summary>State dict names: conv1.{weight,bias}, conv2.{weight,bias}, fc.{weight,bias}.</summary>
    internal sealed class Model : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly Conv2d conv2;
        private readonly Linear fc;

        public Model(int channels, int classes)
            : base(RecipeName)
        {
            conv1 = nn.Conv2d(channels, 8, 3, padding: 1);
            conv2 = nn.Conv2d(8, 16, 3, padding: 1);
            fc = nn.Linear(16, classes);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var h = nn.functional.max_pool2d(nn.functional.relu(conv1.forward(input)), 2);
            h = nn.functional.relu(conv2.forward(h));
            var pooled = h.mean([2L, 3L]);
            return fc.forward(pooled).MoveToOuterDisposeScope();
        }
    }
}
