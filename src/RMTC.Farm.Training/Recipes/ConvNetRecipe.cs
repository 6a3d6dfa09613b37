using RMTC.Farm.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Recipes;

/// <summary>
/// <c>convnet</c>: a small convolutional classifier strong enough for real images (Fashion-MNIST, CIFAR-sized patches).
/// conv3x3(C->16, pad 1)+ReLU+maxpool2, conv3x3(16->32, pad 1)+ReLU+maxpool2, flatten,
/// linear(32*(H/4)*(W/4) -> 64)+ReLU, linear(64 -> classes). Cross-entropy on I64 labels.
/// </summary>
/// <remarks>The state-dict names (conv1.*, conv2.*, fc1.*, fc2.*) and this shape are a contract: the ONNX export relies on them.</remarks>
internal sealed class ConvNetRecipe : Recipe
{
    public const string RecipeName = "convnet";
    public const int Channels1 = 16;
    public const int Channels2 = 32;
    public const int Hidden = 64;

    public override string Name => RecipeName;

    public override string Description =>
        "small CNN classifier for real images, e.g. Fashion-MNIST (labelled-images: input, class index; cross-entropy)";

    public override string DatasetKind => BuiltInRecipes.DatasetKind(RecipeName);

    public override void Validate(int[] sampleShape, int classes)
    {
        base.Validate(sampleShape, classes);
        if (classes < 2)
        {
            throw new ArgumentException($"recipe {Name}: needs at least 2 classes, got {classes}", nameof(classes));
        }

        if (sampleShape[1] < 4 || sampleShape[2] < 4)
        {
            throw new ArgumentException($"recipe {Name}: samples must be at least 4x4 (two max-pools of 2), got {sampleShape[1]}x{sampleShape[2]}", nameof(sampleShape));
        }
    }

    public override RecipeModel CreateModel(int[] sampleShape, int classes)
    {
        Validate(sampleShape, classes);
        return RecipeModel.Of(new Model(sampleShape[0], sampleShape[1] / 4 * (sampleShape[2] / 4), classes));
    }

    public override Tensor Loss(Tensor output, Tensor target) => nn.functional.cross_entropy(output, target);

    /// <summary>State dict names: conv1.{weight,bias}, conv2.{weight,bias}, fc1.{weight,bias}, fc2.{weight,bias}.</summary>
    internal sealed class Model : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly Conv2d conv2;
        private readonly Linear fc1;
        private readonly Linear fc2;

        public Model(int channels, int pooledPixels, int classes)
            : base(RecipeName)
        {
            conv1 = nn.Conv2d(channels, Channels1, 3, padding: 1);
            conv2 = nn.Conv2d(Channels1, Channels2, 3, padding: 1);
            fc1 = nn.Linear(Channels2 * pooledPixels, Hidden);
            fc2 = nn.Linear(Hidden, classes);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var h = nn.functional.max_pool2d(nn.functional.relu(conv1.forward(input)), 2);
            h = nn.functional.max_pool2d(nn.functional.relu(conv2.forward(h)), 2);
            h = nn.functional.relu(fc1.forward(h.flatten(1)));
            return fc2.forward(h).MoveToOuterDisposeScope();
        }
    }
}
