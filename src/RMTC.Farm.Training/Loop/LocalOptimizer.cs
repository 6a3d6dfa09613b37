using RMTC.Farm.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Loop;

/// <summary>The one place a local optimiser is built from <see cref="OptimizerSettings"/>, for shards and local runs alike.</summary>
internal static class LocalOptimizer
{
    /// <summary>
    /// Adam (TorchSharp's defaults, as every run used before the setting existed) or SGD with momentum, each with the
    /// settings' weight decay. Throws <see cref="ArgumentException"/> naming a setting that does not fit.
    /// </summary>
    public static OptimizerHelper Create(IEnumerable<Parameter> parameters, double learningRate, OptimizerSettings? settings)
    {
        var s = settings ?? OptimizerSettings.Default;
        if (!(s.WeightDecay >= 0) || double.IsInfinity(s.WeightDecay))
        {
            throw new ArgumentException($"optimizer weight decay must be 0 or more, got {s.WeightDecay}", nameof(settings));
        }

        switch (s.Name)
        {
            case OptimizerNames.Adam:
                if (s.Momentum != 0)
                {
                    throw new ArgumentException($"optimizer adam takes no momentum (got {s.Momentum}): use sgd, or remove momentum", nameof(settings));
                }

                return optim.Adam(parameters, learningRate, weight_decay: s.WeightDecay);
            case OptimizerNames.Sgd:
                if (!(s.Momentum >= 0 && s.Momentum < 1))
                {
                    throw new ArgumentException($"optimizer sgd momentum must be in [0, 1), got {s.Momentum}", nameof(settings));
                }

                return optim.SGD(parameters, learningRate, momentum: s.Momentum, weight_decay: s.WeightDecay);
            default:
                throw new ArgumentException($"unknown optimizer '{s.Name}' (use {string.Join(" or ", OptimizerNames.All)})", nameof(settings));
        }
    }
}
