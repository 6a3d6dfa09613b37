namespace RMTC.Farm.Core.Training;

/// <summary>
/// The local optimiser a shard (or a <c>train --local</c> run) steps with. The default, Adam (β1 0.9, β2 0.999) without
/// momentum or weight decay settings, is what every recipe trained with before the setting existed, step for step.
/// </summary>
public sealed record OptimizerSettings
{
    /// <summary>Adam with no weight decay: the farm's optimiser before <c>local.optimizer</c> existed.</summary>
    public static OptimizerSettings Default { get; } = new();

    /// <summary><c>adam</c> or <c>sgd</c> (see <see cref="OptimizerNames"/>).</summary>
    public string Name { get; init; } = OptimizerNames.Adam;

    /// <summary>SGD's momentum (0 for plain SGD); Adam has its own betas and refuses a momentum.</summary>
    public double Momentum { get; init; }

    /// <summary>L2 weight decay added to the gradient (both optimisers); 0 for none.</summary>
    public double WeightDecay { get; init; }
}

/// <summary>Names of the local optimisers.</summary>
public static class OptimizerNames
{
    /// <summary>Adam (β1 0.9, β2 0.999, ε 1e-8).</summary>
    public const string Adam = "adam";

    /// <summary>Stochastic gradient descent, optionally with momentum.</summary>
    public const string Sgd = "sgd";

    /// <summary>Every name, for errors.</summary>
    public static readonly IReadOnlyList<string> All = [Adam, Sgd];
}
