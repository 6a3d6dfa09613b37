namespace RMTC.Farm.Core.Rights;

/// <summary>The outcome of <see cref="RightsPolicy.Evaluate"/>: allowed, or refused with every reason.</summary>
public sealed class RightsDecision
{
    /// <summary>Most refusals a message lists one by one; the rest are counted.</summary>
    public const int MaxListed = 10;

    /// <summary>Every refusal, dataset-level causes first, then assets in dataset order.</summary>
    public required IReadOnlyList<RightsRefusal> Refusals { get; init; }

    /// <summary>True when no data refuses the training.</summary>
    public bool Allowed => Refusals.Count == 0;

    /// <summary>
    /// What a wrangler reads when the job is refused: a header naming the dataset, then one line per refusal naming
    /// the asset, the assertion, its value and the fix. Empty when allowed.
    /// </summary>
    public required string Message { get; init; }
}
