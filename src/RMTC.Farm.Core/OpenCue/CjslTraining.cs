using System.Globalization;
using System.Text;
using RMTC.Farm.Core.Jobs;

namespace RMTC.Farm.Core.OpenCue;

/// <summary>
/// Turns the jobs of an OpenCue spec into training runs. Each job holds one training layer: a layer whose
/// <c>cmd</c> is <c>rmtc train --recipe R --dataset D ...</c> (flags win over <c>RMTC_*</c> keys of the layer's
/// <c>env</c>, which win over the job's). Its frame range gives the shards (one frame, one shard), <c>gpus</c>,
/// <c>gpu_memory</c>, <c>memory</c>, <c>cores</c> and <c>tags</c> each shard's resources, the job's <c>maxretries</c>
/// the retries per shard.
/// </summary>
public static class CjslTraining
{
    /// <summary>Training settings a layer may give, as <c>--flag</c> (or <c>RMTC_FLAG</c> in env).</summary>
    public static readonly IReadOnlyList<string> Flags =
    [
        "recipe", "dataset", "rounds", "seed", "epochs", "batch-size", "learning-rate", "optimizer", "sgd-momentum", "weight-decay",
        "learning-rate-schedule", "final-learning-rate", "augment", "rounds-per-epoch", "merge", "outer-learning-rate", "momentum",
        "accept-constraint", "exclude-asset",
    ];

    /// <summary>
    /// One <see cref="JobSpec"/> per job of the spec, in order. <paramref name="baseDirectory"/> resolves a relative
    /// dataset path; when null (a spec sent over the wire has no directory) the dataset path must be absolute.
    /// Throws <see cref="JobSpecException"/> naming every layer or setting that cannot be trained.
    /// </summary>
    public static IReadOnlyList<JobSpec> ToJobSpecs(CjslSpec spec, string sourceName, string? baseDirectory, IReadOnlyCollection<string>? knownRecipes = null)
    {
        var problems = new List<string>();
        if (spec.Depends.Count > 0)
        {
            var d = spec.Depends[0];
            problems.Add($"{sourceName}:{d.Line}: <depend type=\"{d.Type}\">: dependencies are not supported for training jobs (each job is one training layer that starts at once): leave <depends> empty and submit dependent jobs after the first finishes");
        }

        var specs = new List<JobSpec>();
        foreach (var job in spec.Jobs)
        {
            var training = job.Layers.Where(IsTrainingLayer).ToList();
            foreach (var other in job.Layers.Where(l => !IsTrainingLayer(l)))
            {
                problems.Add($"{sourceName}:{other.CommandLine}: layer '{Echo.Of(other.Name)}': only training layers run on this farm: its <cmd> must be `rmtc train --recipe R --dataset D ...` (got '{Shorten(other.Command)}')");
            }

            if (training.Count > 1)
            {
                problems.Add($"{sourceName}:{training[1].Line}: job '{Echo.Of(job.Name)}': a job holds one training layer, this one has {training.Count} ({string.Join(", ", training.Select(l => l.Name))}): put each in its own <job>");
            }

            if (training.Count == 1 && training[0] is var layer && ToJobSpec(spec, job, layer, sourceName, baseDirectory, knownRecipes, problems) is { } jobSpec)
            {
                specs.Add(jobSpec);
                problems.AddRange(JobSpecLimits.Problems(jobSpec).Select(p => $"{sourceName}: job '{Echo.Of(job.Name)}': {p}"));
            }
        }

        if (problems.Count > 0)
        {
            throw new JobSpecException(problems);
        }

        return specs;
    }

    /// <summary>The layer flag of a YAML <c>local:</c> key (<c>momentum</c> is SGD's: <c>--sgd-momentum</c>).</summary>
    private static string FlagOfKey(string key) => key == "momentum" ? "sgd-momentum" : key.Replace('_', '-');

    /// <summary>True when the layer's command runs <c>rmtc train</c>.</summary>
    public static bool IsTrainingLayer(CjslLayer layer)
    {
        var words = Split(layer.Command);
        return words.Count >= 2 && Path.GetFileName(words[0]) is "rmtc" or "rmtc.exe" && words[1] == "train";
    }

    private static JobSpec? ToJobSpec(CjslSpec spec, CjslJob job, CjslLayer layer, string source, string? baseDirectory, IReadOnlyCollection<string>? knownRecipes, List<string> problems)
    {
        var before = problems.Count;
        var where = $"{source}:{layer.CommandLine}: layer '{Echo.Of(layer.Name)}'";
        if (layer.Chunk != 1)
        {
            problems.Add($"{source}:{layer.Line}: layer '{Echo.Of(layer.Name)}': <chunk> must be 1 for a training layer: each frame is one shard (got {layer.Chunk})");
        }

        // Settings are the same for every shard: a token such as #IFRAME# in a training flag would make them differ.
        var first = layer.CommandFor(layer.Frames[0], job.Name);
        var last = layer.CommandFor(layer.Frames[^1], job.Name);
        if (first != last)
        {
            problems.Add($"{where}: the training command must be the same for every frame; #IFRAME#, #FRAME# and #FRAMESPEC# cannot be used in it (each frame is a shard of one run)");
        }

        var settings = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var env in new[] { job.Env, layer.Env })
        {
            foreach (var (key, value) in env)
            {
                if (key.StartsWith("RMTC_", StringComparison.Ordinal) && FlagOfEnv(key) is { } flag)
                {
                    settings[flag] = [value];
                }
            }
        }

        var words = Split(first);
        var fromFlags = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (var i = 2; i < words.Count; i++)
        {
            var word = words[i];
            if (!word.StartsWith("--", StringComparison.Ordinal))
            {
                problems.Add($"{where}: '{Echo.Of(word)}' in <cmd> is not a flag: write `rmtc train --recipe R --dataset D [--rounds N ...]`");
                continue;
            }

            var eq = word.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? word[2..eq] : word[2..];
            string value;
            if (eq > 0)
            {
                value = word[(eq + 1)..];
            }
            else if (i + 1 < words.Count)
            {
                value = words[++i];
            }
            else
            {
                problems.Add($"{where}: --{name} needs a value");
                continue;
            }

            if (!Flags.Contains(name))
            {
                problems.Add($"{where}: unknown flag --{name}: use {string.Join(", ", Flags.Select(f => "--" + f))}");
                continue;
            }

            if (!fromFlags.TryGetValue(name, out var values))
            {
                fromFlags[name] = values = new List<string>();
            }

            values.Add(value);
        }

        foreach (var (flag, values) in fromFlags)
        {
            settings[flag] = values;
        }

        string? One(string flag, bool required = false)
        {
            if (settings.TryGetValue(flag, out var values))
            {
                if (values.Count > 1)
                {
                    problems.Add($"{where}: --{flag} is given {values.Count} times: give it once");
                }

                return values[^1];
            }

            if (required)
            {
                problems.Add($"{where}: --{flag} is required (in <cmd>, or RMTC_{flag.ToUpperInvariant().Replace('-', '_')} in <env>)");
            }

            return null;
        }

        long Whole(string flag, long fallback, long min, long max)
        {
            if (One(flag) is not { } text)
            {
                return fallback;
            }

            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max)
            {
                return v;
            }

            problems.Add($"{where}: --{flag} must be a whole number from {min} to {max} (got '{Echo.Of(text)}')");
            return fallback;
        }

        double Real(string flag, double fallback, double min, double max, bool exclusiveMin, bool exclusiveMax)
        {
            if (One(flag) is not { } text)
            {
                return fallback;
            }

            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
                && (exclusiveMin ? v > min : v >= min) && (exclusiveMax ? v < max : v <= max))
            {
                return v;
            }

            var low = exclusiveMin ? "above" : "at least";
            var high = exclusiveMax ? "below" : "at most";
            problems.Add($"{where}: --{flag} must be a number {low} {min.ToString(CultureInfo.InvariantCulture)} and {high} {max.ToString(CultureInfo.InvariantCulture)} (got '{Echo.Of(text)}')");
            return fallback;
        }

        var recipe = One("recipe", required: true);
        if (recipe is not null && knownRecipes is not null && !knownRecipes.Contains(recipe))
        {
            problems.Add($"{where}: unknown recipe '{Echo.Of(recipe)}': use one of {string.Join(", ", knownRecipes)}");
        }

        var dataset = One("dataset", required: true);
        if (dataset is not null && baseDirectory is null && !Path.IsPathRooted(dataset))
        {
            problems.Add($"{where}: --dataset '{Echo.Of(dataset)}' must be an absolute path (a path every node reads, e.g. /farm/datasets/patches): a spec sent to the coordinator has no directory to resolve it against");
        }

        var defaults = new JobSpec { Name = "x", Recipe = "x", Dataset = "x" };
        var rounds = (int)Whole("rounds", defaults.Rounds, 1, JobSpecParser.MaxRounds);
        var seed = Whole("seed", defaults.Seed, long.MinValue, long.MaxValue);
        double? Optional(string flag, double min, double max, bool exclusiveMin, bool exclusiveMax) =>
            settings.ContainsKey(flag) ? Real(flag, 0, min, max, exclusiveMin, exclusiveMax) : null;

        var local = new LocalTrainingSpec
        {
            Epochs = (int)Whole("epochs", defaults.Local.Epochs, 1, 10_000),
            BatchSize = (int)Whole("batch-size", defaults.Local.BatchSize, 1, 1_000_000),
            LearningRate = Real("learning-rate", defaults.Local.LearningRate, 0, 100, exclusiveMin: true, exclusiveMax: false),
            Optimizer = One("optimizer"),
            Momentum = Optional("sgd-momentum", 0, 1, exclusiveMin: false, exclusiveMax: true),
            WeightDecay = Optional("weight-decay", 0, 1, exclusiveMin: false, exclusiveMax: false),
            LearningRateSchedule = One("learning-rate-schedule"),
            FinalLearningRate = Optional("final-learning-rate", 0, 100, exclusiveMin: true, exclusiveMax: false),
            Augment = One("augment"),
            RoundsPerEpoch = settings.ContainsKey("rounds-per-epoch") ? (int)Whole("rounds-per-epoch", 1, 1, JobSpecParser.MaxRoundsPerEpoch) : null,
        };
        // The same checks as a YAML spec's local: block, in this format's words (--merge's --momentum is the server's).
        local = LocalTrainingRules.Check(local, rounds, (key, value) => $"`--{FlagOfKey(key)}{(value is null ? "" : " " + value)}`", (_, text) => problems.Add($"{where}: {text}"));
        var strategy = One("merge") ?? defaults.Merge.Strategy;
        if (!MergeStrategies.All.Contains(strategy))
        {
            problems.Add($"{where}: unknown merge strategy '{Echo.Of(strategy)}': use {string.Join(" or ", MergeStrategies.All)}");
        }

        var merge = new MergeSpec
        {
            Strategy = strategy,
            OuterLearningRate = Real("outer-learning-rate", defaults.Merge.OuterLearningRate, 0, 10, exclusiveMin: true, exclusiveMax: false),
            Momentum = Real("momentum", defaults.Merge.Momentum, 0, 1, exclusiveMin: false, exclusiveMax: true),
        };
        var exclude = new List<string>();
        foreach (var text in settings.GetValueOrDefault("exclude-asset") ?? [])
        {
            var digest = (text.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? text[7..] : text).ToLowerInvariant();
            if (Digests.Sha256Digest.IsValid(digest))
            {
                exclude.Add(digest);
            }
            else
            {
                problems.Add($"{where}: --exclude-asset '{Echo.Of(text)}' is not an asset digest: give a sha256 digest as `rmtc lineage impact` prints it");
            }
        }

        var accept = (settings.GetValueOrDefault("accept-constraint") ?? []).Select(t => t.Trim()).Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        if (layer.Frames.Count > JobSpecParser.MaxShards)
        {
            problems.Add($"{source}:{layer.Line}: layer '{Echo.Of(layer.Name)}': the range '{Echo.Of(layer.Range)}' has {layer.Frames.Count} frames; at most {JobSpecParser.MaxShards} shards are allowed");
        }

        if (job.Name.Length > 100)
        {
            problems.Add($"{source}:{job.Line}: job '{Echo.Of(job.Name)}': the conformed job name is {job.Name.Length} characters; keep show, shot, user and job name under 100 together");
        }

        if (problems.Count > before)
        {
            return null;
        }

        return new JobSpec
        {
            Name = job.Name,
            Recipe = recipe!,
            Dataset = Path.GetFullPath(baseDirectory is null ? dataset! : Path.Combine(baseDirectory, dataset!)),
            Shards = layer.Frames.Count,
            Rounds = rounds,
            Seed = seed,
            MaxRetries = job.MaxRetries ?? defaults.MaxRetries,
            Local = local,
            Merge = merge,
            Resources = new ResourceSpec
            {
                // As pyoutline: asking for GPU memory implies at least one GPU.
                Gpus = layer.Gpus ?? (layer.GpuMemoryMiB > 0 ? 1 : 0),
                GpuMemoryMiB = layer.GpuMemoryMiB ?? 0,
                MemoryMiB = layer.MemoryMiB ?? 0,
                Cores = layer.Cores ?? 0,
                Tags = layer.Tags,
            },
            Rights = accept.Length > 0 ? new RightsSpec { AcceptConstraints = accept } : null,
            ExcludeAssets = exclude.Distinct().ToArray(),
            OpenCue = new OpenCueOrigin
            {
                JobName = job.Name,
                Show = spec.Show,
                Shot = spec.Shot,
                User = spec.User,
                Uid = spec.Uid,
                Facility = spec.Facility,
                Email = spec.Email,
                Layer = layer.Name,
                LayerType = layer.Type,
                Range = layer.Range,
                Command = layer.Command,
                Paused = job.Paused,
                Priority = job.Priority,
                Services = layer.Services.Count > 0 ? layer.Services : null,
            },
        };
    }

    private static string? FlagOfEnv(string key)
    {
        var flag = key["RMTC_".Length..].ToLowerInvariant().Replace('_', '-');
        return Flags.Contains(flag) ? flag : null;
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";

    /// <summary>Splits a command line into words as a POSIX shell would for plain words and '...'/"..." quoting.</summary>
    internal static List<string> Split(string command)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < command.Length; i++)
        {
            var c = command[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else if (c == '\\' && quote == '"' && i + 1 < command.Length && command[i + 1] is '"' or '\\')
                {
                    current.Append(command[++i]);
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else if (c == '\\' && i + 1 < command.Length)
            {
                current.Append(command[++i]);
                inWord = true;
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (inWord)
        {
            words.Add(current.ToString());
        }

        return words;
    }
}
