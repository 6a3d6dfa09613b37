using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// What lists, filters, show scoping and the lineage graph's run nodes need of a run, without its rounds and attempts.
/// The scheduler takes one per published view of a live run and one, kept, for an ended run (<see
/// cref="Scheduling.RunView.Summary"/>), so a page over thousands of runs reads no manifest.
/// </summary>
/// <param name="RunId">The run's id.</param>
/// <param name="Name">The job's name.</param>
/// <param name="State">queued, running, succeeded, failed or cancelled.</param>
/// <param name="SubmittedBy">Who submitted it.</param>
/// <param name="SubmittedAt">When.</param>
/// <param name="FinishedAt">When it ended; null while live.</param>
/// <param name="Error">Why it failed; null otherwise.</param>
/// <param name="Recipe">The recipe, or the scripted model's task.</param>
/// <param name="Show">The show it belongs to (the spec's, or the default); null when the manifest has no spec.</param>
/// <param name="Dataset">The dataset record, as stored at submission (never changed after).</param>
/// <param name="LicenceClosure">The licence closure checked at submission; null in manifests older than closures.</param>
/// <param name="Rounds">Rounds started so far.</param>
/// <param name="PlannedRounds">Rounds the spec asks for; null without a spec.</param>
/// <param name="FinalModelDigest">The final model, once the run succeeded.</param>
public sealed record RunSummary(
    string RunId,
    string Name,
    string State,
    string SubmittedBy,
    DateTimeOffset SubmittedAt,
    DateTimeOffset? FinishedAt,
    string? Error,
    string Recipe,
    string? Show,
    DatasetRecord Dataset,
    LicenceClosure? LicenceClosure,
    int Rounds,
    int? PlannedRounds,
    string? FinalModelDigest)
{
    /// <summary>The summary of <paramref name="m"/> as it stands (the dataset and closure are shared, not copied: both are fixed at submission).</summary>
    public static RunSummary Of(RunManifest m) => new(
        m.RunId,
        m.Name,
        m.State,
        m.SubmittedBy,
        m.SubmittedAt,
        m.FinishedAt,
        m.Error,
        m.Recipe,
        m.Spec?.EffectiveShow,
        m.Dataset,
        m.LicenceClosure,
        m.Rounds.Count,
        m.Spec?.Rounds,
        m.FinalModelDigest);

    /// <summary>True once the run ended (succeeded, failed or cancelled).</summary>
    public bool IsFinal => RunStates.IsFinal(State);

    /// <summary>The licences of everything the model was trained from, as one label ("CC-BY-4.0 + studio-internal").</summary>
    public string Licences => LicenceClosure is { } c ? string.Join(" + ", c.Licences) : Dataset.Licence;
}
