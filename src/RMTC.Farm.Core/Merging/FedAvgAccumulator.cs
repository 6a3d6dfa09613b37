using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Merging;

/// <summary>
/// Streaming federated averaging: folds each result into a running sample-weighted sum as it arrives,
/// so memory stays at one model plus the tensor in flight, whatever the number of shards.
/// </summary>
public sealed class FedAvgAccumulator
{
    /// <summary>Creates an empty accumulator whose results must match <paramref name="template"/> (names, dtypes F32, shapes).</summary>
    public FedAvgAccumulator(SafetensorsHeader template) => throw new NotImplementedException();

    /// <summary>Results folded so far.</summary>
    public int Count => throw new NotImplementedException();

    /// <summary>Sum of weights (sample counts) folded so far.</summary>
    public double TotalWeight => throw new NotImplementedException();

    /// <summary>
    /// Validates the whole safetensors result in <paramref name="seekableResult"/> (names, shapes, dtypes, all values finite) and only then
    /// folds it in with <paramref name="weight"/> (its sample count, &gt; 0). Throws <see cref="WeightsRejectedException"/> and leaves the sum untouched when invalid.
    /// </summary>
    public void Add(Stream seekableResult, double weight) => throw new NotImplementedException();

    /// <summary>Same as <see cref="Add(Stream,double)"/> for in-memory tensors.</summary>
    public void Add(IReadOnlyList<NamedTensor> result, double weight) => throw new NotImplementedException();

    /// <summary>Divides by the total weight and returns the average (template order). The accumulator cannot be used afterwards.</summary>
    public IReadOnlyList<NamedTensor> Finish() => throw new NotImplementedException();
}
