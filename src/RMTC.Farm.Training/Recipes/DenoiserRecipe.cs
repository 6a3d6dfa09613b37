using RMTC.Farm.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Recipes;

/// <summary>
/// <c>denoiser</c>: a small fully convolutional residual denoiser for rendered patches (any H, W).
/// conv3x3(C->16)+ReLU, conv3x3(16->16)+ReLU, conv3x3(16->C) predicts the noise; output = input - noise. MSE loss.
/// </summary>
internal sealed class DenoiserRecipe : Recipe
{
    public const string RecipeName = "denoiser";
    public const int Width = 16;

    public override string Name => RecipeName;

    public override string Description =>
        "small residual CNN denoiser for rendered image patches (image-pairs: noisy input, clean target; MSE)";

    public override string DatasetKind => BuiltInRecipes.DatasetKind(RecipeName);

    public override RecipeModel CreateModel(int[] sampleShape, int classes)
    {
        Validate(sampleShape, classes);
        return RecipeModel.Of(new Model(sampleShape[0]));
    }

    public override Tensor Loss(Tensor output, Tensor target) => nn.functional.mse_loss(output, target);

    /// <summary>State dict names: conv1.{weight,bias}, conv2.{weight,bias}, conv3.{weight,bias}.</summary>
    internal sealed class Model : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly Conv2d conv2;
        private readonly Conv2d conv3;

        public Model(int channels)
            : base(RecipeName)
        {
            conv1 = nn.Conv2d(channels, Width, 3, padding: 1);
            conv2 = nn.Conv2d(Width, Width, 3, padding: 1);
            conv3 = nn.Conv2d(Width, channels, 3, padding: 1);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var h = nn.functional.relu(conv1.forward(input));
            h = nn.functional.relu(conv2.forward(h));
            var noise = conv3.forward(h);
            return (input - noise).MoveToOuterDisposeScope();
        }
    }
}
