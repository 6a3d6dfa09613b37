namespace RMTC.Farm.Core.Rights;

/// <summary>
/// The CAWG training-and-data-mining assertion labels a dataset declares under <c>rights:</c>, and the legacy
/// C2PA spellings of the same assertions.
/// </summary>
/// <remarks>
/// C2PA 1.x named these <c>c2pa.*</c>; CAWG took them over as <c>cawg.*</c>. Older manifests and exports still carry the
/// C2PA names, so both are read and everything past parsing only ever sees the <c>cawg.*</c> spelling.
/// </remarks>
public static class CawgAssertions
{
    /// <summary>The data may be used to train AI models.</summary>
    public const string AiTraining = "cawg.ai_training";

    /// <summary>The data may be used to train generative AI models (models that produce content).</summary>
    public const string AiGenerativeTraining = "cawg.ai_generative_training";

    /// <summary>The data may be mined (text and data mining).</summary>
    public const string DataMining = "cawg.data_mining";

    /// <summary>The data may be used as input to AI inference.</summary>
    public const string AiInference = "cawg.ai_inference";

    /// <summary>Every CAWG label, in the order they are reported.</summary>
    public static IReadOnlyList<string> All { get; } = [AiTraining, AiGenerativeTraining, DataMining, AiInference];

    private const string LegacyPrefix = "c2pa.";
    private const string CawgPrefix = "cawg.";

    /// <summary>
    /// The <c>cawg.*</c> label for <paramref name="label"/> (itself, or the CAWG spelling of a legacy <c>c2pa.*</c>
    /// label); false when it is neither.
    /// </summary>
    public static bool TryNormalise(string label, out string cawgLabel)
    {
        ArgumentNullException.ThrowIfNull(label);
        var candidate = label.StartsWith(LegacyPrefix, StringComparison.Ordinal) ? CawgPrefix + label[LegacyPrefix.Length..] : label;
        cawgLabel = All.FirstOrDefault(l => string.Equals(l, candidate, StringComparison.Ordinal)) ?? "";
        return cawgLabel.Length > 0;
    }

    /// <summary>Like <see cref="TryNormalise"/>, but throws <see cref="ArgumentException"/> naming the known labels.</summary>
    public static string Normalise(string label) =>
        TryNormalise(label, out var cawg)
            ? cawg
            : throw new ArgumentException($"unknown rights label '{label}' (known: {string.Join(", ", All)})", nameof(label));
}
