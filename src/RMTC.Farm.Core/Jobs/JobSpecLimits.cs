namespace RMTC.Farm.Core.Jobs;

/// <summary>
/// Every size limit of a job spec in one place: the document's expanded size, and the length or count of each text and
/// list field. Both spellings of a spec (job.yaml and OpenCue's XML) end in a <see cref="JobSpec"/> checked here, so the
/// stored manifest, which carries the spec, is bounded however the spec was written. The README's Job spec section
/// lists the same figures.
/// </summary>
public static class JobSpecLimits
{
    /// <summary>Default largest spec, UTF-8 bytes of text and of YAML expanded (every alias written out).</summary>
    public const int DefaultMaxSpecBytes = 256 * 1024;

    /// <summary>The setting that raises <see cref="DefaultMaxSpecBytes"/> on a coordinator.</summary>
    public const string MaxSpecBytesSetting = "Coordinator:MaxJobSpecBytes";

    /// <summary>Longest short text: recipe, merge strategy, optimizer, model task and loss, sharding, evaluation split, close policy, OpenCue names.</summary>
    public const int MaxWordLength = 256;

    /// <summary>Longest dataset path, after resolving it against the spec's directory (PATH_MAX on Linux).</summary>
    public const int MaxPathLength = 4096;

    /// <summary>Longest text of <c>model.licence</c> and <c>model.origin</c>.</summary>
    public const int MaxModelTextLength = 1_000;

    /// <summary>Most resource tags.</summary>
    public const int MaxTags = 64;

    /// <summary>Longest resource tag.</summary>
    public const int MaxTagLength = 100;

    /// <summary>Most assets in <c>exclude_assets</c>.</summary>
    public const int MaxExcludeAssets = 10_000;

    /// <summary>Most texts in <c>rights.accept_constraints</c>.</summary>
    public const int MaxAcceptConstraints = 64;

    /// <summary>Longest text in <c>rights.accept_constraints</c>.</summary>
    public const int MaxConstraintLength = 1_000;

    /// <summary>Longest OpenCue command line kept with the job.</summary>
    public const int MaxCommandLength = 8_192;

    /// <summary>Each field of <paramref name="spec"/> over its limit, as "field: problem and fix"; empty when it fits.</summary>
    public static IEnumerable<string> Problems(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var texts = new (string Field, string? Value, int Max)[]
        {
            ("name", spec.Name, MaxWordLength),
            ("recipe", spec.Recipe, MaxWordLength),
            ("dataset", spec.Dataset, MaxPathLength),
            ("merge.strategy", spec.Merge.Strategy, MaxWordLength),
            ("local.optimizer", spec.Local.Optimizer, MaxWordLength),
            ("model.file", spec.Model?.File, MaxPathLength),
            ("model.task", spec.Model?.Task, MaxWordLength),
            ("model.loss", spec.Model?.Loss, MaxWordLength),
            ("model.licence", spec.Model?.Licence, MaxModelTextLength),
            ("model.origin", spec.Model?.Origin, MaxModelTextLength),
            ("model.onnx_template", spec.Model?.OnnxTemplate, MaxPathLength),
            ("sharding", spec.Sharding, MaxWordLength),
            ("evaluation.split", spec.Evaluation?.Split, MaxWordLength),
            ("round_policy.close", spec.RoundPolicy?.Close, MaxWordLength),
            ("show", spec.Show, MaxWordLength),
            ("opencue job name", spec.OpenCue?.JobName, MaxWordLength),
            ("opencue show", spec.OpenCue?.Show, MaxWordLength),
            ("opencue shot", spec.OpenCue?.Shot, MaxWordLength),
            ("opencue user", spec.OpenCue?.User, MaxWordLength),
            ("opencue facility", spec.OpenCue?.Facility, MaxWordLength),
            ("opencue email", spec.OpenCue?.Email, MaxWordLength),
            ("opencue layer", spec.OpenCue?.Layer, MaxWordLength),
            ("opencue layer type", spec.OpenCue?.LayerType, MaxWordLength),
            ("opencue range", spec.OpenCue?.Range, MaxWordLength),
            ("opencue cmd", spec.OpenCue?.Command, MaxCommandLength),
        };
        foreach (var (field, value, max) in texts)
        {
            if (value is { Length: var length } && length > max)
            {
                yield return $"{field}: is {length} characters long, over the limit of {max}: shorten it";
            }
        }

        foreach (var problem in List("resources.tags", spec.Resources.Tags, MaxTags, MaxTagLength, "a tag"))
        {
            yield return problem;
        }

        foreach (var problem in List("exclude_assets", spec.ExcludeAssets, MaxExcludeAssets, 64, "a digest"))
        {
            yield return problem;
        }

        foreach (var problem in List("rights.accept_constraints", spec.Rights?.AcceptConstraints ?? [], MaxAcceptConstraints, MaxConstraintLength, "a constraint"))
        {
            yield return problem;
        }
    }

    private static IEnumerable<string> List(string field, IReadOnlyList<string> items, int maxCount, int maxLength, string what)
    {
        if (items.Count > maxCount)
        {
            yield return $"{field}: holds {items.Count} entries, over the limit of {maxCount}: list fewer";
        }

        var longest = items.Count == 0 ? -1 : Enumerable.Range(0, items.Count).MaxBy(i => items[i].Length);
        if (longest >= 0 && items[longest].Length > maxLength)
        {
            yield return $"{field}: entry {longest + 1} is {items[longest].Length} characters long, over the limit of {maxLength} for {what}: shorten it";
        }
    }
}
