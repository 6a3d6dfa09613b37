using RMTC.Farm.Core.Datasets;

namespace RMTC.Farm.Core.Rights;

/// <summary>
/// One origin of training data and the terms it comes under: a whole dataset, an asset override of it, or (later)
/// base weights. <see cref="Rights"/> is the source's effective rights, keyed by <c>cawg.*</c> label.
/// </summary>
/// <param name="Id">Identifies the source in a closure, e.g. <c>dataset:studio-patches@3 sha256:...</c>.</param>
/// <param name="Licence">SPDX id or named studio licence; empty when none is declared.</param>
/// <param name="Owner">Who holds the rights.</param>
/// <param name="Consent">Notes on the consent behind the data.</param>
/// <param name="Rights">Effective assertions by <c>cawg.*</c> label; an absent label is unspecified.</param>
public sealed record RightsSource(
    string Id,
    string Licence,
    string Owner,
    string Consent,
    IReadOnlyDictionary<string, RightsAssertion> Rights)
{
    /// <summary>
    /// True for a source that brings terms (a licence, an origin) but says nothing about how data may be used: a model
    /// file. Its licence and id join a closure; the closure's CAWG rights stay those of the data sources.
    /// </summary>
    public bool TermsOnly { get; init; }

    /// <summary>
    /// A TorchScript model file a run trains (its code): the licence the spec's <c>model:</c> block declares, and its
    /// origin in words (e.g. "fine-tuned from weights X under licence Y") in the source's id beside the file's digest.
    /// </summary>
    public static RightsSource FromModelFile(string file, string digest, string licence, string? origin)
    {
        ArgumentNullException.ThrowIfNull(file);
        var id = $"model:{Path.GetFileName(file)} sha256:{digest}";
        return new RightsSource(string.IsNullOrWhiteSpace(origin) ? id : $"{id} ({origin.Trim()})", licence, "", "",
            new Dictionary<string, RightsAssertion>(StringComparer.Ordinal)) { TermsOnly = true };
    }

    /// <summary>
    /// The sources of an opened dataset: the dataset-level terms when at least one asset inherits them unchanged,
    /// and one source per asset override with its effective terms (override over dataset, label by label).
    /// </summary>
    /// <remarks>
    /// Only terms some asset actually trains under are included, so the closure agrees with <see cref="RightsPolicy"/>:
    /// a dataset-level notAllowed that every asset overrides does not end up in the closure.
    /// </remarks>
    public static IReadOnlyList<RightsSource> FromDataset(Dataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var d = dataset.Descriptor;
        var id = $"dataset:{d.Name}@{d.Version} sha256:{dataset.Digest}";
        var sources = new List<RightsSource>();
        if (dataset.Samples.Any(a => dataset.OverrideOf(a) is null))
        {
            sources.Add(new RightsSource(id, d.Licence, d.Owner, d.Consent, d.Rights));
        }

        // The asset an override applies to, so a path override is recorded with the exact bytes it covered.
        var firstAsset = new Dictionary<AssetRightsOverride, DatasetAsset>(ReferenceEqualityComparer.Instance);
        foreach (var asset in dataset.Samples)
        {
            if (dataset.OverrideOf(asset) is { } o)
            {
                firstAsset.TryAdd(o, asset);
            }
        }

        foreach (var o in d.Assets.Where(firstAsset.ContainsKey))
        {
            var target = o.Path is not null ? $"{o.Path} sha256:{firstAsset[o].Sha256}" : o.Target;
            sources.Add(new RightsSource(
                $"{id} asset {target}",
                o.Licence ?? d.Licence,
                o.Owner ?? d.Owner,
                o.Consent ?? d.Consent,
                Dataset.Combine(d.Rights, o.Rights)));
        }

        return sources;
    }
}
