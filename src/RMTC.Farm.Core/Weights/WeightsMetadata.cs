namespace RMTC.Farm.Core.Weights;

/// <summary>Metadata keys of the farm's weights files that the merge reads, not only people.</summary>
public static class WeightsMetadata
{
    /// <summary>
    /// The tensors that are running statistics (a model's floating-point buffers, e.g. BatchNorm's <c>running_mean</c> and
    /// <c>running_var</c>), comma-separated: written by the run's initial weights and carried by every merged round. The
    /// merge averages them by samples like every tensor, but a server step (nesterov) takes the average as it is: it
    /// extrapolates learned parameters along their update, and a variance extrapolated that way can turn negative.
    /// </summary>
    public const string Statistics = "rmtc.statistics";

    /// <summary>The value of <see cref="Statistics"/> for these names.</summary>
    public static string FormatStatistics(IEnumerable<string> names) => string.Join(",", names);

    /// <summary>The names <see cref="Statistics"/> lists in <paramref name="metadata"/>; empty when it is absent (weights written before it existed, or a model without buffers).</summary>
    public static IReadOnlySet<string> ReadStatistics(IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return metadata.TryGetValue(Statistics, out var text) && text.Length > 0
            ? text.Split(',').ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);
    }
}
