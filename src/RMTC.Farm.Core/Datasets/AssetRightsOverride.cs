using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Core.Datasets;

/// <summary>
/// One entry of <c>assets:</c> in <c>dataset.yaml</c>: terms for a single asset (chosen by <see cref="Path"/> or by
/// <see cref="Sha256"/>, exactly one) that differ from the dataset's. Fields left null inherit the dataset's value;
/// <see cref="Rights"/> overrides the dataset's rights label by label.
/// </summary>
public sealed class AssetRightsOverride
{
    /// <summary>Asset path relative to the dataset directory, '/'-separated, e.g. <c>samples/000012.safetensors</c>.</summary>
    public string? Path { get; set; }
    /// <summary>Lowercase hex sha256 of the asset's bytes; matches every asset with that content.</summary>
    public string? Sha256 { get; set; }
    public string? Licence { get; set; }
    public string? Owner { get; set; }
    public string? Consent { get; set; }
    /// <summary>Assertions that replace the dataset's for this asset, keyed by <c>cawg.*</c> label.</summary>
    public Dictionary<string, RightsAssertion> Rights { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How the entry names its asset in messages: <c>samples/000012.safetensors</c> or <c>sha256:...</c>.</summary>
    public string Target => Path ?? "sha256:" + Sha256;
}
