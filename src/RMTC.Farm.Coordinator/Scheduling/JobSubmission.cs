namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>A job spec handed in for scheduling, by whichever door it came (rmtc submit, the OpenCue adapter, a test).</summary>
public sealed record JobSubmission
{
    /// <summary>The spec's YAML text.</summary>
    public required string SpecYaml { get; init; }

    /// <summary>Where relative paths in the spec resolve (the submitter's directory); empty: the coordinator's.</summary>
    public string BaseDirectory { get; init; } = "";

    /// <summary>What to call the spec in error messages (its file name); empty: "job spec".</summary>
    public string SourceName { get; init; } = "";

    /// <summary>Who submitted it, as recorded in the manifest.</summary>
    public string SubmittedBy { get; init; } = "";
}
