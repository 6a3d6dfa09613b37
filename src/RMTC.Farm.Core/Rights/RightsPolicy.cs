using RMTC.Farm.Core.Datasets;

namespace RMTC.Farm.Core.Rights;

/// <summary>
/// Decides whether a dataset's data may be used for a training: pure, no I/O beyond what <see cref="Dataset"/> already holds.
/// </summary>
/// <remarks>
/// Each needed assertion of each asset (its effective rights: dataset value overridden by its own) must be
/// <c>allowed</c>, or <c>constrained</c> with a constraint_info the job accepts word for word. <c>notAllowed</c>
/// refuses, and so does a missing assertion: data is trained on only when it says it may be.
/// </remarks>
public static class RightsPolicy
{
    /// <summary>Evaluates <paramref name="dataset"/> against the <paramref name="neededAssertions"/> of a training.</summary>
    /// <param name="dataset">An opened dataset (assets hashed, overrides matched).</param>
    /// <param name="neededAssertions">CAWG labels the training needs (legacy c2pa.* spellings accepted).</param>
    /// <param name="acceptedConstraints">constraint_info texts the job has declared it honours.</param>
    public static RightsDecision Evaluate(Dataset dataset, IEnumerable<string> neededAssertions, IEnumerable<string> acceptedConstraints)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var needed = neededAssertions.Select(CawgAssertions.Normalise).Distinct(StringComparer.Ordinal).ToList();
        var accepted = acceptedConstraints.Select(c => c.Trim()).ToHashSet(StringComparer.Ordinal);
        bool Refuses(RightsAssertion? value) => value is null
            || (value.Use != DatasetRights.Allowed
                && !(value.Use == DatasetRights.Constrained && value.ConstraintInfo is { } info && accepted.Contains(info.Trim())));

        var d = dataset.Descriptor;
        var refusals = new List<RightsRefusal>();
        foreach (var label in needed)
        {
            var value = d.Rights.GetValueOrDefault(label);
            var inheriting = dataset.Samples.Count(a => dataset.OverrideOf(a) is not { } o || !o.Rights.ContainsKey(label));
            if (inheriting > 0 && Refuses(value))
            {
                refusals.Add(new RightsRefusal(null, label, value, inheriting));
            }
        }

        foreach (var asset in dataset.Samples)
        {
            if (dataset.OverrideOf(asset) is not { } o)
            {
                continue;
            }

            foreach (var label in needed)
            {
                if (o.Rights.TryGetValue(label, out var value) && Refuses(value))
                {
                    refusals.Add(new RightsRefusal(asset, label, value));
                }
            }
        }

        return new RightsDecision
        {
            Refusals = refusals,
            Message = refusals.Count == 0 ? "" : Describe(dataset, needed, refusals),
        };
    }

    private static string Describe(Dataset dataset, IReadOnlyList<string> needed, IReadOnlyList<RightsRefusal> refusals)
    {
        var d = dataset.Descriptor;
        var lines = new List<string>
        {
            $"dataset '{d.Name}' ({dataset.Directory}) may not be used for this training, which needs {string.Join(" and ", needed)}:",
        };
        foreach (var r in refusals.Take(RightsDecision.MaxListed))
        {
            string where;
            if (r.Asset is { } asset)
            {
                where = $"asset {asset.RelativePath} (sha256 {asset.Sha256})";
            }
            else
            {
                var overriding = dataset.Samples.Count - r.Inheriting;
                where = overriding == 0 ? "all assets" : $"all assets but the {overriding} that override it";
            }

            lines.Add($"  - {where}: {r.Label} is {Reason(r, dataset)}");
        }

        if (refusals.Count > RightsDecision.MaxListed)
        {
            lines.Add($"  - and {refusals.Count - RightsDecision.MaxListed} more");
        }

        return string.Join("\n", lines);
    }

    private static string Reason(RightsRefusal r, Dataset dataset)
    {
        var yaml = Path.Combine(dataset.Directory, Dataset.DescriptorFileName);
        if (r.Value is null)
        {
            return $"missing: the data must say it may be trained on; declare `{r.Label}: allowed` in {yaml} if the owner permits it";
        }

        if (r.Value.Use == DatasetRights.Constrained)
        {
            return $"constrained (constraint_info \"{r.Value.ConstraintInfo}\") and the job does not accept that constraint: " +
                $"if it honours it, add the exact text to the job spec under `rights: {{ accept_constraints: [...] }}`";
        }

        return $"{r.Value.Use}: the owner does not permit this use; remove the data or train on another dataset";
    }
}
