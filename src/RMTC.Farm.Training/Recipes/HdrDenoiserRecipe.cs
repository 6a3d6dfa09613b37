using RMTC.Farm.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Recipes;

/// <summary>
/// <c>hdr-denoiser</c>: a denoiser for linear HDR renders with auxiliary features (render-pairs: beauty RGB first, then
/// feature channels such as albedo RGB and normal XYZ; target beauty RGB).
/// </summary>
/// <remarks>
/// Radiance spans orders of magnitude (a lamp at 50, a shadow at 0.01), so the network never sees it linear: the
/// beauty goes through <c>log(1 + max(x, 0))</c>, features (already in [−1, 1]) go in unchanged, and the network
/// predicts a residual in that log space; the output is <c>exp(y) − 1</c>, linear radiance again. The loss is L1 between
/// the log transforms of output and target, which weighs a 10% error on a highlight like a 10% error in a shadow and
/// keeps gradients bounded however bright the frame (a plain MSE on radiance is dominated by fireflies). In eval mode
/// (and in the ONNX export) the output is clipped at 0, since radiance is never negative; training sees the unclipped
/// value so a dark pixel's gradient never dies.
/// Layers: conv3x3(C→32), conv3x3 dilation 2, conv3x3 dilation 4 (ReLU after each), conv3x3(32→3): a 17×17 receptive
/// field at the cost of four 3×3 convolutions. State-dict names conv1..conv4 and this computation are a contract with
/// the ONNX graph (HdrDenoiserGraph).
/// </remarks>
internal sealed class HdrDenoiserRecipe : Recipe
{
    public const string RecipeName = "hdr-denoiser";
    public const int Width = 32;
    public const int BeautyChannels = 3;

    /// <summary>Pixels of context on each side of an output pixel (the receptive field's radius): 1 + 2 + 4 + 1.</summary>
    public const int Radius = 8;

    public override string Name => RecipeName;

    public override string Description =>
        "denoiser for linear HDR renders with albedo and normal features (render-pairs: beauty RGB + features in, beauty RGB out; L1 in log space)";

    public override string DatasetKind => BuiltInRecipes.DatasetKind(RecipeName);

    public override void Validate(int[] sampleShape, int classes)
    {
        base.Validate(sampleShape, classes);
        if (sampleShape[0] < BeautyChannels)
        {
            throw new ArgumentException(
                $"recipe {Name}: the input needs the beauty's {BeautyChannels} channels first (then features such as albedo and normal), got {sampleShape[0]} channels",
                nameof(sampleShape));
        }
    }

    public override RecipeModel CreateModel(int[] sampleShape, int classes)
    {
        Validate(sampleShape, classes);
        return RecipeModel.Of(new Model(sampleShape[0]));
    }

    public override Tensor Loss(Tensor output, Tensor target)
    {
        if (output.shape[1] != target.shape[1])
        {
            throw new ArgumentException($"recipe {Name}: the model predicts {output.shape[1]} channels but the target has {target.shape[1]}; render.target in dataset.yaml must be the beauty's RGB");
        }

        using var scope = NewDisposeScope();
        // -0.999 keeps log1p finite where an untrained model predicts below -1; a target is radiance (>= 0).
        var loss = nn.functional.l1_loss(output.clamp_min(-0.999).log1p(), target.clamp_min(0).log1p());
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>The transform the network works in: log(1 + max(x, 0)), written as the ONNX graph computes it.</summary>
    internal static Tensor ToLog(Tensor radiance) => (nn.functional.relu(radiance) + 1).log();

    /// <summary>State dict names: conv1..conv4 .{weight,bias}.</summary>
    internal sealed class Model : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly Conv2d conv2;
        private readonly Conv2d conv3;
        private readonly Conv2d conv4;
        private readonly int _channels;

        public Model(int channels)
            : base(RecipeName)
        {
            _channels = channels;
            conv1 = nn.Conv2d(channels, Width, 3, padding: 1);
            conv2 = nn.Conv2d(Width, Width, 3, padding: 2, dilation: 2);
            conv3 = nn.Conv2d(Width, Width, 3, padding: 4, dilation: 4);
            conv4 = nn.Conv2d(Width, BeautyChannels, 3, padding: 1);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var beauty = ToLog(input.narrow(1, 0, BeautyChannels));
            var x = _channels > BeautyChannels ? cat([beauty, input.narrow(1, BeautyChannels, _channels - BeautyChannels)], 1) : beauty;
            var h = nn.functional.relu(conv1.forward(x));
            h = nn.functional.relu(conv2.forward(h));
            h = nn.functional.relu(conv3.forward(h));
            var y = beauty + conv4.forward(h);
            var radiance = y.exp() - 1;
            return (training ? radiance : nn.functional.relu(radiance)).MoveToOuterDisposeScope();
        }
    }
}
