using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Loop;

/// <summary>
/// Peak signal-to-noise ratio, 10·log10(1/MSE) for values in 0..1, and the tone map that puts HDR radiance there.
/// </summary>
/// <remarks>
/// Radiance is unbounded, so a PSNR on it is ruled by the brightest pixels (a lamp at 50 outweighs a whole shadowed
/// wall). Render models are measured as a viewer would see the frame instead: each channel through
/// <c>t(x) = (x / (1 + x))^(1/2.2)</c> with <c>x = max(radiance, 0)</c> (Reinhard's global operator at exposure 1, then a
/// 2.2 display gamma), which maps 0..∞ onto 0..1 without clipping highlights and gives shadows the weight a display
/// gives them. <c>farm/scripts/denoiser_psnr.py</c> computes the same figure for the README's quality table; change
/// both together.
/// </remarks>
public static class Psnr
{
    /// <summary>Display gamma of the tone map.</summary>
    public const double Gamma = 2.2;

    /// <summary>10·log10(1/<paramref name="mse"/>), capped at 100 dB for an exact match.</summary>
    public static double FromMse(double mse) => 10 * Math.Log10(1 / Math.Max(mse, 1e-10));

    /// <summary>The tone map <c>(x / (1 + x))^(1/2.2)</c> of non-negative radiance, element-wise, in 0..1.</summary>
    public static Tensor ToneMap(Tensor radiance)
    {
        using var scope = NewDisposeScope();
        var x = radiance.clamp_min(0);
        return (x / (x + 1)).pow(1 / Gamma).MoveToOuterDisposeScope();
    }

    /// <summary>The tone map of one radiance value (as <see cref="ToneMap(Tensor)"/>).</summary>
    public static double ToneMap(double radiance)
    {
        var x = Math.Max(radiance, 0);
        return Math.Pow(x / (1 + x), 1 / Gamma);
    }

    /// <summary>Sum over all elements of the squared difference of the tone-mapped <paramref name="output"/> and <paramref name="target"/>.</summary>
    public static double HdrSquaredErrorSum(Tensor output, Tensor target)
    {
        using var scope = NewDisposeScope();
        return ToneMap(output).sub(ToneMap(target)).to_type(ScalarType.Float64).square().sum().item<double>();
    }
}
