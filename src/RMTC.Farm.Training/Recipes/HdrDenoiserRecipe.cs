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
/// predicts a residual in that log space; the output is <c>exp(y) − 1</c>, linear radiance again. The loss is the MSE
/// between the tone-mapped output and target, <c>(x / (1 + x))^(1/2.2)</c> per channel (see <see cref="ToneMap"/>): it
/// is bounded (a firefly of 10⁴ costs at most 1, where an MSE on radiance pays 10⁸), weighs errors as a display shows
/// them, and is the very quantity the held-out PSNR measures, so training minimises what is reported. In eval mode
/// (and in the ONNX export) the output is clipped at 0, since radiance is never negative.
/// Layers: conv3x3(C→32), conv3x3 dilation 2, conv3x3 dilation 4 (ReLU after each), then conv3x3(32 + C→3) on those
/// features together with the network's input: a 17×17 receptive field at the cost of four 3×3 convolutions, and a
/// linear path from the input to the residual, so a plain 3×3 filter of the log beauty is a convex fit the first steps
/// find, where through three ReLU layers alone it took hundreds of steps on a plateau (with a few thousand steps of a
/// CPU budget, it never left it on real renders). State-dict names conv1..conv4 and this computation are a contract with
/// the ONNX graph (HdrDenoiserGraph); the initial weights start the model at the identity (<see cref="InitializeWeights"/>).
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
        "denoiser for linear HDR renders with albedo and normal features (render-pairs: beauty RGB + features in, beauty RGB out; log-space residual, MSE on the tone-mapped image)";

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

    /// <summary>
    /// The seeded values, rescaled: the hidden convolutions get He's bound for ReLU layers (uniform in
    /// ±sqrt(6/fan_in), biases 0) so the small differences noise makes in the input survive three ReLUs instead of
    /// shrinking by about half a layer, and the last convolution starts at zero, so the residual starts at nothing: an
    /// untrained model returns the noisy beauty (its loss is the noisy input's from the first step) and training only
    /// learns what to take away. With PyTorch's default bounds everywhere it started off by a random log-space offset
    /// and spent tens of epochs on a plateau before it denoised at all (on real Cycles renders).
    /// </summary>
    public override void InitializeWeights(RecipeModel model, long seed)
    {
        base.InitializeWeights(model, seed);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.Module.named_parameters())
        {
            if (name.StartsWith("conv4.", StringComparison.Ordinal) || name.EndsWith(".bias", StringComparison.Ordinal))
            {
                parameter.zero_();
            }
            else
            {
                // The defaults are uniform in ±1/sqrt(fan_in): the same draw, stretched to ±sqrt(6/fan_in).
                parameter.mul_(Math.Sqrt(6));
            }
        }
    }

    public override Tensor Loss(Tensor output, Tensor target)
    {
        if (output.shape[1] != target.shape[1])
        {
            throw new ArgumentException($"recipe {Name}: the model predicts {output.shape[1]} channels but the target has {target.shape[1]}; render.target in dataset.yaml must be the beauty's RGB");
        }

        using var scope = NewDisposeScope();
        var loss = nn.functional.mse_loss(ToneMap(output), ToneMap(target));
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The loss's view of radiance: <c>((x + ε) / (1 + x + ε))^(1/2.2)</c> with <c>x = max(radiance, 0)</c> and ε = 10⁻³,
    /// the tone map PSNR is measured on (<see cref="Loop.Psnr.ToneMap(Tensor)"/>) with ε keeping the gradient finite at 0.
    /// </summary>
    internal static Tensor ToneMap(Tensor radiance)
    {
        using var scope = NewDisposeScope();
        var x = radiance.clamp_min(0) + ToneMapEpsilon;
        return (x / (x + 1)).pow(1 / Loop.Psnr.Gamma).MoveToOuterDisposeScope();
    }

    private const double ToneMapEpsilon = 1e-3;

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
            conv4 = nn.Conv2d(Width + channels, BeautyChannels, 3, padding: 1);
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
            var y = beauty + conv4.forward(cat([h, x], 1));
            var radiance = y.exp() - 1;
            return (training ? radiance : nn.functional.relu(radiance)).MoveToOuterDisposeScope();
        }
    }
}
