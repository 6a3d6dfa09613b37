namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// Texts an agent sends that the manifest records (a failure's reason, a yield's reason, the device), cut to a length
/// the manifest's size budget counts on (see <see cref="Runs.ManifestBudget"/>): a message may be megabytes long.
/// </summary>
internal static class AgentText
{
    /// <summary>Longest agent text recorded, characters.</summary>
    public const int MaxLength = 400;

    /// <summary>The text as is when short; else its start and how long it was.</summary>
    public static string Cut(string text) =>
        text.Length <= MaxLength ? text : $"{text[..(MaxLength - 40)]}... ({text.Length} characters)";
}
