using System.Text;
using RMTC.Farm.Core.Digests;

namespace RMTC.Farm.Core.Datasets;

/// <summary>
/// Which assets of a dataset a run may train on and which it evaluates on. Held-out splits (every split but
/// <c>train</c>) are never trained on, and neither is a training asset whose bytes equal a held-out asset's (the same
/// sample filed twice would leak the test set into training): the two sets are disjoint by path and by content.
/// </summary>
public sealed record TrainingData
{
    /// <summary>Word in a job spec that turns evaluation off.</summary>
    public const string NoEvaluation = "none";

    /// <summary>Assets to train on, in the dataset's order.</summary>
    public required IReadOnlyList<DatasetAsset> Train { get; init; }
    /// <summary>Assets of the evaluation split, in the dataset's order; empty when the run evaluates nothing.</summary>
    public required IReadOnlyList<DatasetAsset> Evaluation { get; init; }
    /// <summary>The split evaluated on, or null.</summary>
    public string? EvaluationSplit { get; init; }
    /// <summary>Every held-out split with its assets.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<DatasetAsset>> HeldOut { get; init; }
    /// <summary>Training assets left out because their content equals a held-out asset's.</summary>
    public int DroppedDuplicates { get; init; }

    /// <summary>
    /// Splits <paramref name="dataset"/>'s samples. <paramref name="evaluationSplit"/>: a held-out split's name,
    /// <see cref="NoEvaluation"/>, or null for the dataset's <c>test</c> split when it has one (else none).
    /// Throws <see cref="DatasetException"/> when the named split does not exist or is the training split.
    /// </summary>
    public static TrainingData Select(Dataset dataset, string? evaluationSplit)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var d = dataset.Descriptor;
        var heldOut = new Dictionary<string, List<DatasetAsset>>(StringComparer.Ordinal);
        var candidates = new List<DatasetAsset>();
        foreach (var asset in dataset.Samples)
        {
            if (DatasetSplits.SplitOf(d, asset.RelativePath) is { } split && split != DatasetSplits.Train)
            {
                (heldOut.TryGetValue(split, out var list) ? list : heldOut[split] = new List<DatasetAsset>()).Add(asset);
            }
            else
            {
                candidates.Add(asset);
            }
        }

        var heldOutDigests = heldOut.Values.SelectMany(l => l).Select(a => a.Sha256).ToHashSet(StringComparer.Ordinal);
        var train = candidates.Where(a => !heldOutDigests.Contains(a.Sha256)).ToList();

        string? chosen = evaluationSplit switch
        {
            NoEvaluation => null,
            null => d.Splits.ContainsKey(DatasetSplits.Test) ? DatasetSplits.Test : null,
            _ => evaluationSplit,
        };
        if (chosen == DatasetSplits.Train)
        {
            throw new DatasetException($"dataset '{d.Name}': cannot evaluate on the train split; name a held-out split ({Known(d)})");
        }

        if (chosen is not null && !d.Splits.ContainsKey(chosen))
        {
            throw new DatasetException($"dataset '{d.Name}' has no split '{chosen}' ({Known(d)}); add `splits:` to its dataset.yaml or import it with a test split");
        }

        return new TrainingData
        {
            Train = train,
            Evaluation = chosen is not null && heldOut.TryGetValue(chosen, out var e) ? e : [],
            EvaluationSplit = chosen,
            HeldOut = heldOut.ToDictionary(h => h.Key, h => (IReadOnlyList<DatasetAsset>)h.Value, StringComparer.Ordinal),
            DroppedDuplicates = candidates.Count - train.Count,
        };
    }

    /// <summary>sha256 over the digests of <paramref name="assets"/> in the dataset's order (one hex digest and '\n' each), as <see cref="Dataset.Digest"/> is made.</summary>
    public static string DigestOf(IEnumerable<DatasetAsset> assets)
    {
        var all = new StringBuilder();
        foreach (var digest in assets.Select(a => a.Sha256))
        {
            all.Append(digest).Append('\n');
        }

        return Sha256Digest.OfBytes(Encoding.ASCII.GetBytes(all.ToString()));
    }

    private static string Known(DatasetDescriptor d) =>
        d.Splits.Count == 0 ? "it declares no splits" : "splits: " + string.Join(", ", d.Splits.Keys.Order(StringComparer.Ordinal));
}
