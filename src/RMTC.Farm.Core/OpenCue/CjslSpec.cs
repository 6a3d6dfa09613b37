namespace RMTC.Farm.Core.OpenCue;

/// <summary>An OpenCue job spec (CJSL) as read, before it becomes training runs. Names are Cuebot-conformed.</summary>
public sealed record CjslSpec
{
    /// <summary>DTD version from the DOCTYPE's system id, e.g. <c>1.15</c>.</summary>
    public required Version Version { get; init; }
    public string? Facility { get; init; }
    public string? Dept { get; init; }
    public required string Show { get; init; }
    /// <summary>Conformed: lower case, '-' turned into '_'.</summary>
    public required string Shot { get; init; }
    public required string User { get; init; }
    public string? Email { get; init; }
    public int? Uid { get; init; }
    public IReadOnlyList<CjslJob> Jobs { get; init; } = [];
    public IReadOnlyList<CjslDepend> Depends { get; init; } = [];
}

/// <summary>One <c>&lt;job&gt;</c>.</summary>
public sealed record CjslJob
{
    /// <summary>The name as written in the spec.</summary>
    public required string SpecName { get; init; }
    /// <summary>The name Cuebot gives the job: <c>show-shot-user_suffix</c>, lower case.</summary>
    public required string Name { get; init; }
    public required int Line { get; init; }
    public bool Paused { get; init; }
    public int Priority { get; init; }
    /// <summary>Null when the spec leaves it out.</summary>
    public int? MaxRetries { get; init; }
    public double? MaxCores { get; init; }
    public double? MaxGpus { get; init; }
    public bool AutoEat { get; init; }
    public string? Os { get; init; }
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<CjslLayer> Layers { get; init; } = [];
}

/// <summary>One <c>&lt;layer&gt;</c>.</summary>
public sealed record CjslLayer
{
    /// <summary>Conformed layer name.</summary>
    public required string Name { get; init; }
    /// <summary><c>Render</c>, <c>Util</c> or <c>Post</c>.</summary>
    public required string Type { get; init; }
    public required int Line { get; init; }
    public required string Command { get; init; }
    public required int CommandLine { get; init; }
    public required string Range { get; init; }
    public required IReadOnlyList<int> Frames { get; init; }
    public int Chunk { get; init; } = 1;
    /// <summary>Cores per frame, already converted from Cuebot's 1/100-core units when written as an integer.</summary>
    public double? Cores { get; init; }
    public bool? Threadable { get; init; }
    public long? MemoryMiB { get; init; }
    public int? Gpus { get; init; }
    public long? GpuMemoryMiB { get; init; }
    /// <summary>Minutes.</summary>
    public int? Timeout { get; init; }
    /// <summary>Minutes.</summary>
    public int? TimeoutLlu { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public IReadOnlyList<string> Limits { get; init; } = [];
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<string> Services { get; init; } = [];
    public IReadOnlyDictionary<string, string> Outputs { get; init; } = new Dictionary<string, string>();

    /// <summary>The command for one frame, with Cuebot's tokens replaced (<c>#IFRAME#</c>, <c>#FRAME#</c>, <c>#LAYER#</c>, <c>#JOB#</c>, <c>#FRAMESPEC#</c>).</summary>
    public string CommandFor(int frame, string jobName) => Command
        .Replace("#IFRAME#", frame.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("#FRAME#", $"{frame.ToString("0000", System.Globalization.CultureInfo.InvariantCulture)}-{Name}", StringComparison.Ordinal)
        .Replace("#FRAMESPEC#", frame.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("#LAYER#", Name, StringComparison.Ordinal)
        .Replace("#JOB#", jobName, StringComparison.Ordinal);
}

/// <summary>One <c>&lt;depend&gt;</c>.</summary>
public sealed record CjslDepend
{
    /// <summary>E.g. <c>FRAME_BY_FRAME</c>, <c>LAYER_ON_LAYER</c>, <c>JOB_ON_JOB</c>.</summary>
    public required string Type { get; init; }
    public required int Line { get; init; }
    public bool AnyFrame { get; init; }
    public required string DependJob { get; init; }
    public string? DependLayer { get; init; }
    public string? DependFrame { get; init; }
    public required string OnJob { get; init; }
    public string? OnLayer { get; init; }
    public string? OnFrame { get; init; }
}
