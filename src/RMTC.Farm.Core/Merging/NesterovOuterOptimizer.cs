using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Merging;

/// <summary>
/// DiLoCo's outer step: server momentum with Nesterov on the pseudo-gradient (global − average).
/// </summary>
public static class NesterovOuterOptimizer
{
    /// <summary>
    /// Updates <paramref name="global"/> in place: g = global − average; m = momentum·m + g; global −= lr·(momentum·m + g).
    /// <paramref name="momentumBuffer"/> is updated in place (same names/shapes as global; zeros on the first round).
    /// With lr = 1 and momentum = 0 the result is the average (plain FedAvg).
    /// </summary>
    /// <remarks>
    /// I64 tensors (counters such as BatchNorm's <c>num_batches_tracked</c>) have no gradient: the global takes the
    /// average's value (the round's merged counter) and their momentum stays as it is. So do the tensors named in
    /// <paramref name="statistics"/> (running statistics, <see cref="WeightsMetadata.Statistics"/>): they are computed by
    /// training, not learned, and an extrapolated variance can turn negative.
    /// <paramref name="average"/> and <paramref name="momentumBuffer"/> are matched to <paramref name="global"/> by name (any order).
    /// Everything is validated before anything is written.
    /// </remarks>
    /// <exception cref="ArgumentException">Names, counts, dtypes (F32 or I64, the same in all three) or shapes differ.</exception>
    /// <exception cref="ArgumentOutOfRangeException">learning rate or momentum not finite.</exception>
    public static void Step(IReadOnlyList<NamedTensor> global, IReadOnlyList<NamedTensor> average, IReadOnlyList<NamedTensor> momentumBuffer, float learningRate, float momentum, IReadOnlySet<string>? statistics = null)
    {
        ArgumentNullException.ThrowIfNull(global);
        ArgumentNullException.ThrowIfNull(average);
        ArgumentNullException.ThrowIfNull(momentumBuffer);
        if (!float.IsFinite(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "the outer learning rate must be finite");
        }

        if (!float.IsFinite(momentum))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "the outer momentum must be finite");
        }

        var averages = Match(global, average, nameof(average));
        var momenta = Match(global, momentumBuffer, nameof(momentumBuffer));
        for (int i = 0; i < global.Count; i++)
        {
            if (global[i].DType == TensorDType.I64 || statistics?.Contains(global[i].Name) == true)
            {
                averages[i].Data.CopyTo(global[i].Data.AsSpan());
                continue;
            }

            FloatKernels.NesterovStep(global[i].AsFloat32(), averages[i].AsFloat32(), momenta[i].AsFloat32(), learningRate, momentum);
        }
    }

    /// <summary>Returns <paramref name="other"/>'s tensors in <paramref name="global"/>'s order, checking names, dtypes and shapes.</summary>
    private static NamedTensor[] Match(IReadOnlyList<NamedTensor> global, IReadOnlyList<NamedTensor> other, string paramName)
    {
        if (other.Count != global.Count)
        {
            throw new ArgumentException($"{paramName} has {other.Count} tensors but global has {global.Count}", paramName);
        }

        var byName = new Dictionary<string, NamedTensor>(other.Count, StringComparer.Ordinal);
        foreach (var t in other)
        {
            ArgumentNullException.ThrowIfNull(t, paramName);
            if (!byName.TryAdd(t.Name, t))
            {
                throw new ArgumentException($"{paramName} has duplicate tensor '{t.Name}'", paramName);
            }
        }

        var result = new NamedTensor[global.Count];
        for (int i = 0; i < global.Count; i++)
        {
            var g = global[i] ?? throw new ArgumentException($"global tensor {i} is null", nameof(global));
            if (g.DType is not (TensorDType.F32 or TensorDType.I64))
            {
                throw new ArgumentException($"global tensor '{g.Name}' is {g.DType.ToHeaderString()}, expected F32 or I64", nameof(global));
            }

            if (!byName.TryGetValue(g.Name, out var o))
            {
                throw new ArgumentException($"{paramName} has no tensor '{g.Name}'", paramName);
            }

            if (o.DType != g.DType)
            {
                throw new ArgumentException($"{paramName} tensor '{o.Name}' is {o.DType.ToHeaderString()}, expected {g.DType.ToHeaderString()} like the global", paramName);
            }

            if (!o.Shape.AsSpan().SequenceEqual(g.Shape))
            {
                throw new ArgumentException(
                    $"{paramName} tensor '{o.Name}' has shape {NamedTensor.FormatShape(o.Shape)}, global has {NamedTensor.FormatShape(g.Shape)}", paramName);
            }

            result[i] = o;
        }

        return result;
    }
}
