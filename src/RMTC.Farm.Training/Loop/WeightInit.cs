using RMTC.Farm.Core.Planning;
using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Loop;

/// <summary>
/// Deterministic parameter initialisation independent of libtorch's RNG: every parameter gets values uniform in
/// ±1/sqrt(fan_in) (PyTorch's default bound for Conv and Linear weights and biases), drawn from SplitMix64 seeded by
/// (seed, stable hash of the parameter name). Same seed, same bytes, on any machine.
/// </summary>
internal static class WeightInit
{
    public static void Apply(nn.Module module, long seed)
    {
        var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in parameters.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var fanIn = FanIn(name, parameter, parameters);
            var bound = 1.0 / Math.Sqrt(Math.Max(1, fanIn));
            var values = new float[parameter.numel()];
            var rng = SplitMix64.For(seed, SplitMix64.StableHash(name));
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = (float)(((2.0 * rng.NextDouble()) - 1.0) * bound);
            }

            using var source = tensor(values, parameter.shape, ScalarType.Float32);
            parameter.copy_(source);
        }
    }

    /// <summary>fan_in of a weight (product of all but the first dimension); a bias uses its sibling weight's.</summary>
    private static long FanIn(string name, Tensor parameter, Dictionary<string, TorchSharp.Modules.Parameter> all)
    {
        if (parameter.dim() >= 2)
        {
            return parameter.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        }

        if (name.EndsWith(".bias", StringComparison.Ordinal)
            && all.TryGetValue(name[..^".bias".Length] + ".weight", out var weight) && weight.dim() >= 2)
        {
            return weight.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        }

        return parameter.numel();
    }
}
