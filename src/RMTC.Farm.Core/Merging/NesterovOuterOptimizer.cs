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
    /// </summary>
    public static void Step(IReadOnlyList<NamedTensor> global, IReadOnlyList<NamedTensor> average, IReadOnlyList<NamedTensor> momentumBuffer, float learningRate, float momentum)
        => throw new NotImplementedException();
}
