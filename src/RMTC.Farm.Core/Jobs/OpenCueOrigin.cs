namespace RMTC.Farm.Core.Jobs;

/// <summary>
/// Where a run submitted as an OpenCue job spec came from: the names pycue and CueGUI look jobs up by, and the layer
/// it was written as. Recorded in the run's spec (and so its manifest) so lookups survive a coordinator restart.
/// </summary>
public sealed record OpenCueOrigin
{
    /// <summary>The job's conformed name, <c>show-shot-user_suffix</c>.</summary>
    public required string JobName { get; init; }
    public required string Show { get; init; }
    public required string Shot { get; init; }
    public required string User { get; init; }
    public int? Uid { get; init; }
    public string? Facility { get; init; }
    public string? Email { get; init; }
    /// <summary>The training layer's conformed name.</summary>
    public required string Layer { get; init; }
    /// <summary><c>Render</c>, <c>Util</c> or <c>Post</c>.</summary>
    public string LayerType { get; init; } = "Render";
    /// <summary>The frame range as written; frame <c>n</c>'s position in it is its shard.</summary>
    public required string Range { get; init; }
    /// <summary>The layer's command as written.</summary>
    public required string Command { get; init; }
    /// <summary>Submitted paused: no shard starts until the job is resumed.</summary>
    public bool Paused { get; init; }
    public int Priority { get; init; }
    /// <summary>The layer's <c>&lt;services&gt;</c> as written (OpenCue tools show them); null when it names none, so older manifests keep their bytes.</summary>
    public IReadOnlyList<string>? Services { get; init; }
}
