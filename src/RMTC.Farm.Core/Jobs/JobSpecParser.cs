using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using RMTC.Farm.Core.Yaml;
using YamlDotNet.RepresentationModel;

namespace RMTC.Farm.Core.Jobs;

/// <summary>
/// Reads job.yaml with every problem reported at once, each naming the field, its line and the fix,
/// so a wrangler can correct a spec in one pass.
/// </summary>
public static partial class JobSpecParser
{
    /// <summary>Largest shard count a spec may ask for.</summary>
    public const int MaxShards = 100_000;

    /// <summary>Largest round count a spec may ask for.</summary>
    public const int MaxRounds = 100_000;

    /// <summary>Most rounds one epoch may be spread over (<c>local.rounds_per_epoch</c>).</summary>
    public const int MaxRoundsPerEpoch = 1_000;

    /// <summary>What a job spec looks like, for errors about a file that is not one.</summary>
    private const string ExpectedShape =
        "A job spec is a YAML mapping of `key: value` lines such as `name: denoise-shot42`, `recipe: denoiser`, `dataset: ../datasets/patches` "
        + "(examples in farm/jobs/); an OpenCue spec is XML that starts with <!DOCTYPE spec ...> (example in farm/examples/opencue/).";

    /// <summary>
    /// Parses and validates. <paramref name="baseDirectory"/> resolves a relative dataset path. <paramref name="maxSpecBytes"/>
    /// bounds the document's expanded size (the coordinator passes its <see cref="JobSpecLimits.MaxSpecBytesSetting"/>);
    /// every field's own limit is in <see cref="JobSpecLimits"/>. <paramref name="target"/> says where the spec will run;
    /// today the farm and <c>rmtc train --local</c> accept the same specs (model blocks and optimiser settings included).
    /// </summary>
    /// <exception cref="JobSpecException">The spec is not valid; nothing should be scheduled.</exception>
    public static JobSpec Parse(string yaml, string sourceName, string baseDirectory, IReadOnlyCollection<string>? knownRecipes = null, int maxSpecBytes = JobSpecLimits.DefaultMaxSpecBytes,
        JobSpecTarget target = JobSpecTarget.Farm)
    {
        var problems = new List<string>();
        string At(long line) => line > 0 ? string.Create(CultureInfo.InvariantCulture, $"{sourceName}:{line}") : sourceName;
        if (NotYaml.NotText(yaml, At, ExpectedShape) is { } binary)
        {
            throw new JobSpecException([binary]);
        }

        YamlMappingNode root;
        try
        {
            if (YamlGuard.Check(yaml, maxSpecBytes, JobSpecLimits.MaxSpecBytesSetting) is { } refused)
            {
                throw new JobSpecException([$"{sourceName}:{refused.Line}: {refused.Message}"]);
            }

            var stream = YamlGuard.Load(yaml);
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode map)
            {
                throw new JobSpecException([$"{sourceName}: a job spec is a YAML mapping with at least `name`, `recipe` and `dataset` (see farm/jobs/ for examples)"]);
            }

            root = map;
        }
        catch (YamlException e)
        {
            throw new JobSpecException([NotYaml.Message(yaml, At, e, ExpectedShape)]);
        }

        var reader = new Fields(root, sourceName, "", problems);
        var name = reader.String("name", required: true);
        if (name is not null && !NamePattern().IsMatch(name))
        {
            reader.Problem("name", $"`name` must be 1-100 letters, digits, '-', '_' or '.' (got '{Echo.Of(name)}')");
        }

        var hasModel = reader.Has("model");
        var recipe = reader.String("recipe");
        if (recipe is null && !hasModel && !reader.Has("recipe"))
        {
            problems.Add($"{sourceName}: recipe is required: add `recipe: ...` (a built-in model) or a `model:` block (your own TorchScript model)");
        }

        if (recipe is not null && hasModel)
        {
            reader.Problem("recipe", "give either `recipe` (a built-in model) or a `model:` block (your own TorchScript model), not both: remove one");
        }
        else if (recipe is not null && knownRecipes is not null && !knownRecipes.Contains(recipe))
        {
            reader.Problem("recipe", $"unknown recipe '{Echo.Of(recipe)}': use one of {string.Join(", ", knownRecipes)}");
        }

        var dataset = reader.String("dataset", required: true);
        if (dataset is not null && dataset.Contains('\0', StringComparison.Ordinal))
        {
            // Path APIs throw on NUL; a path with one cannot name a directory anyway.
            reader.Problem("dataset", "`dataset` holds a NUL character (\\0): write the dataset directory's path as plain text");
        }
        var shards = reader.Int("shards", 3, 1, MaxShards);
        var rounds = reader.Int("rounds", 2, 1, MaxRounds);
        var seed = reader.Long("seed", 1);
        var maxRetries = reader.Int("max_retries", 3, 0, 100);

        var local = new LocalTrainingSpec();
        if (reader.Mapping("local") is { } localFields)
        {
            local = ReadLocal(localFields, rounds);
        }

        var model = reader.Mapping("model") is { } modelFields ? ReadModel(modelFields, baseDirectory) : null;

        var merge = new MergeSpec();
        if (reader.Mapping("merge") is { } mergeFields)
        {
            var strategy = mergeFields.String("strategy") ?? merge.Strategy;
            if (!MergeStrategies.All.Contains(strategy))
            {
                mergeFields.Problem("strategy", $"unknown merge strategy '{Echo.Of(strategy)}': use {string.Join(" or ", MergeStrategies.All)}");
            }

            merge = new MergeSpec
            {
                Strategy = strategy,
                OuterLearningRate = mergeFields.Double("outer_learning_rate", merge.OuterLearningRate, 0, 10, exclusiveMin: true),
                Momentum = mergeFields.Double("momentum", merge.Momentum, 0, 1, exclusiveMax: true),
            };
            mergeFields.RejectUnknown();
        }

        var resources = new ResourceSpec();
        if (reader.Mapping("resources") is { } res)
        {
            resources = new ResourceSpec
            {
                Gpus = res.Int("gpus", 0, 0, 64),
                GpuMemoryMiB = res.Size("gpu_memory"),
                MemoryMiB = res.Size("memory"),
                Cores = res.Double("cores", 0, 0, 4096),
                Tags = res.Tags("tags"),
            };
            res.RejectUnknown();
        }

        RightsSpec? rights = null;
        var exclude = new List<string>();
        foreach (var text in reader.Tags("exclude_assets"))
        {
            var digest = text.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? text[7..].ToLowerInvariant() : text.ToLowerInvariant();
            if (Digests.Sha256Digest.IsValid(digest))
            {
                exclude.Add(digest);
            }
            else
            {
                reader.Problem("exclude_assets", $"'{Echo.Of(text)}' is not an asset digest: list sha256 digests (64 hex characters), as `rmtc lineage impact` prints them");
            }
        }

        if (reader.Mapping("rights") is { } rightsFields)
        {
            rights = new RightsSpec { AcceptConstraints = rightsFields.Texts("accept_constraints") };
            rightsFields.RejectUnknown();
        }

        var sharding = reader.String("sharding");
        if (sharding is not null && !ShardingStrategies.All.Contains(sharding))
        {
            reader.Problem("sharding", $"unknown sharding '{Echo.Of(sharding)}': use {string.Join(" or ", ShardingStrategies.All)} (iid deals shuffled samples, by-label sorts them by class first)");
            sharding = null;
        }

        EvaluationSpec? evaluation = null;
        if (reader.Mapping("evaluation") is { } evalFields)
        {
            evaluation = new EvaluationSpec { Split = evalFields.String("split") };
            evalFields.RejectUnknown();
        }

        RoundPolicySpec? roundPolicy = null;
        if (reader.Mapping("round_policy") is { } policyFields)
        {
            roundPolicy = ReadRoundPolicy(policyFields, shards);
        }

        var show = reader.String("show");
        if (show is not null && !NamePattern().IsMatch(show))
        {
            reader.Problem("show", $"`show` must be 1-100 letters, digits, '-', '_' or '.' (got '{show}')");
        }

        reader.RejectUnknown();

        if (problems.Count > 0)
        {
            throw new JobSpecException(problems);
        }

        var datasetPath = Path.GetFullPath(Path.Combine(baseDirectory, dataset!));
        var spec = new JobSpec
        {
            Name = name!,
            Recipe = model is not null ? ModelSpec.RecipeName : recipe!,
            Model = model,
            Dataset = datasetPath,
            Shards = shards,
            Rounds = rounds,
            Seed = seed,
            MaxRetries = maxRetries,
            Local = local,
            Merge = merge,
            Resources = resources,
            Rights = rights,
            ExcludeAssets = exclude.Distinct().ToArray(),
            Sharding = sharding,
            Evaluation = evaluation,
            RoundPolicy = roundPolicy,
            Show = show,
        };
        if (local.FlipRotate && TrainsOn(spec) == Datasets.DatasetKinds.LabelledImages)
        {
            problems.Add($"{sourceName}: local.augment: flip-rotate turns the input and target images of a pair together, but {spec.Recipe} trains on labelled-images (a class, not an image): remove `augment`");
        }

        problems.AddRange(JobSpecLimits.Problems(spec).Select(p => $"{sourceName}: {p}"));
        return problems.Count > 0 ? throw new JobSpecException(problems) : spec;
    }

    /// <summary>The dataset kind a parsed spec trains on: its model's task, or its built-in recipe's kind (null for a recipe the farm does not know).</summary>
    private static string? TrainsOn(JobSpec spec) =>
        spec.Model is { } model ? model.Task : Training.BuiltInRecipes.Names.Contains(spec.Recipe) ? Training.BuiltInRecipes.DatasetKind(spec.Recipe) : null;

    private static LocalTrainingSpec ReadLocal(Fields fields, int rounds)
    {
        var defaults = new LocalTrainingSpec();
        var local = new LocalTrainingSpec
        {
            Epochs = fields.Int("epochs", defaults.Epochs, 1, 10_000),
            BatchSize = fields.Int("batch_size", defaults.BatchSize, 1, 1_000_000),
            LearningRate = fields.Double("learning_rate", defaults.LearningRate, 0, 100, exclusiveMin: true),
            Optimizer = fields.String("optimizer"),
            Momentum = fields.Has("momentum") ? fields.Double("momentum", 0, 0, 1, exclusiveMax: true) : null,
            WeightDecay = fields.Has("weight_decay") ? fields.Double("weight_decay", 0, 0, 1) : null,
            LearningRateSchedule = fields.String("learning_rate_schedule"),
            FinalLearningRate = fields.Has("final_learning_rate") ? fields.Double("final_learning_rate", 0, 0, 100, exclusiveMin: true) : null,
            Augment = fields.String("augment"),
            RoundsPerEpoch = fields.Has("rounds_per_epoch") ? fields.Int("rounds_per_epoch", 1, 1, MaxRoundsPerEpoch) : null,
        };
        local = LocalTrainingRules.Check(local, rounds, (key, value) => value is null ? $"`{key}`" : $"`{key}: {value}`", fields.Problem);
        fields.RejectUnknown();
        return local;
    }

    private static ModelSpec? ReadModel(Fields fields, string baseDirectory)
    {
        var file = Path(fields, "file", required: true);
        var task = fields.String("task", required: true);
        if (task is not null && !Training.ScriptedModelTasks.All.Contains(task))
        {
            fields.Problem("task", $"unknown task '{Echo.Of(task)}': use image-pairs (input and target images; loss mse or l1) or labelled-images (input image and class; loss cross_entropy)");
            task = null;
        }

        var loss = fields.String("loss", required: true);
        if (loss is not null && task is not null && !Training.ScriptedModelTasks.LossesFor(task).Contains(loss))
        {
            fields.Problem("loss", $"loss '{Echo.Of(loss)}' does not fit task {task}: use {string.Join(" or ", Training.ScriptedModelTasks.LossesFor(task))}");
            loss = null;
        }

        var licence = fields.String("licence", required: true);
        var origin = fields.String("origin");
        var onnx = Path(fields, "onnx_template", required: false);
        fields.RejectUnknown();
        return file is null || task is null || loss is null || licence is null
            ? null
            : new ModelSpec
            {
                File = System.IO.Path.GetFullPath(System.IO.Path.Combine(baseDirectory, file)),
                Task = task,
                Loss = loss,
                Licence = licence,
                Origin = origin,
                OnnxTemplate = onnx is null ? null : System.IO.Path.GetFullPath(System.IO.Path.Combine(baseDirectory, onnx)),
            };

        static string? Path(Fields fields, string key, bool required)
        {
            var text = fields.String(key, required);
            if (text is not null && text.Contains('\0', StringComparison.Ordinal))
            {
                fields.Problem(key, $"`{key}` holds a NUL character (\\0): write the file's path as plain text");
                return null;
            }

            return text;
        }
    }

    private static RoundPolicySpec ReadRoundPolicy(Fields fields, int shards)
    {
        var close = fields.String("close") ?? RoundClosePolicies.All;
        if (!RoundClosePolicies.Names.Contains(close))
        {
            fields.Problem("close", $"unknown close policy '{close}': use all (wait for every shard) or quorum (after `deadline`, close with `quorum` results)");
            close = RoundClosePolicies.All;
        }

        int? quorum = fields.Has("quorum") ? fields.Int("quorum", shards, 1, shards) : null;
        var deadline = fields.Duration("deadline");
        var straggler = fields.Duration("straggler_after");
        if (close == RoundClosePolicies.Quorum && (quorum is null || deadline is null))
        {
            fields.Problem("close", "`close: quorum` needs both `quorum` (results that suffice, 1 to the shard count) and `deadline` (e.g. 30m, from the round's start)");
        }

        if (close == RoundClosePolicies.All && (quorum is not null || deadline is not null))
        {
            fields.Problem(quorum is not null ? "quorum" : "deadline", "`quorum` and `deadline` only apply with `close: quorum`: add it, or remove them to wait for every shard");
        }

        fields.RejectUnknown();
        return new RoundPolicySpec { Close = close, Quorum = quorum, Deadline = deadline, StragglerAfter = straggler };
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex NamePattern();

    /// <summary>Typed reads of one mapping's keys, recording problems instead of throwing.</summary>
    private sealed class Fields(YamlMappingNode map, string source, string prefix, List<string> problems)
    {
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

        public void Problem(string key, string message)
        {
            var node = Find(key);
            var line = node is null ? map.Start.Line : node.Start.Line;
            problems.Add($"{source}:{line}: {prefix}{key}: {message}");
        }

        public string? String(string key, bool required = false)
        {
            var node = Find(key);
            if (node is null)
            {
                if (required)
                {
                    problems.Add($"{source}: {prefix}{key} is required: add `{key}: ...` to the spec");
                }

                return null;
            }

            if (node is YamlScalarNode { Value: { Length: > 0 } value })
            {
                return value;
            }

            Problem(key, $"`{key}` must be a non-empty text value");
            return null;
        }

        public int Int(string key, int fallback, int min, int max) => (int)Long(key, fallback, min, max);

        public long Long(string key, long fallback, long min = long.MinValue, long max = long.MaxValue)
        {
            var text = Scalar(key);
            if (text is null)
            {
                return fallback;
            }

            if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                Problem(key, $"`{key}` must be a whole number (got '{Echo.Of(text)}')");
                return fallback;
            }

            if (value < min || value > max)
            {
                Problem(key, $"`{key}` must be between {min} and {max} (got {value})");
                return fallback;
            }

            return value;
        }

        public double Double(string key, double fallback, double min, double max, bool exclusiveMin = false, bool exclusiveMax = false)
        {
            var text = Scalar(key);
            if (text is null)
            {
                return fallback;
            }

            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            {
                Problem(key, $"`{key}` must be a number (got '{Echo.Of(text)}')");
                return fallback;
            }

            var low = exclusiveMin ? value <= min : value < min;
            var high = exclusiveMax ? value >= max : value > max;
            if (low || high)
            {
                var lo = exclusiveMin ? "above" : "at least";
                var hi = exclusiveMax ? "below" : "at most";
                Problem(key, $"`{key}` must be {lo} {min.ToString(CultureInfo.InvariantCulture)} and {hi} {max.ToString(CultureInfo.InvariantCulture)} (got {text})");
                return fallback;
            }

            return value;
        }

        public bool Has(string key) => Find(key) is not null;

        /// <summary>A duration such as 90s, 30m or 2h; null when absent. Zero is refused: it would fire at once.</summary>
        public TimeSpan? Duration(string key)
        {
            var text = Scalar(key);
            if (text is null)
            {
                return null;
            }

            if (!DurationText.TryParse(text, out var value) || value <= TimeSpan.Zero)
            {
                Problem(key, $"`{key}` must be a positive duration such as 90s, 30m or 2h (got '{text}')");
                return null;
            }

            return value;
        }

        public long Size(string key)
        {
            var text = Scalar(key);
            if (text is null)
            {
                return 0;
            }

            if (!ByteSize.TryParseMiB(text, out var mib))
            {
                Problem(key, $"`{key}` must be a size such as 512m, 8g or 8GiB; a bare number means MiB (got '{Echo.Of(text)}')");
            }
            else if (mib > ByteSize.MaxMiB)
            {
                Problem(key, $"`{key}` is {Echo.Of(text)}, more than any node has: the limit is {ByteSize.MaxMiB / (1024 * 1024)} TiB; check the unit (512m, 8g)");
                mib = 0;
            }

            return mib;
        }

        public IReadOnlyList<string> Tags(string key)
        {
            var node = Find(key);
            switch (node)
            {
                case null:
                    return [];
                case YamlScalarNode scalar:
                    // OpenCue writes tags as "a | b"; accept that spelling as well as a YAML list.
                    return (scalar.Value ?? "").Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                case YamlSequenceNode seq when seq.Children.All(c => c is YamlScalarNode):
                    return seq.Children.Select(c => ((YamlScalarNode)c).Value ?? "").Where(v => v.Length > 0).ToArray();
                default:
                    Problem(key, $"`{key}` must be a list of tags, e.g. [gpu, lighting]");
                    return [];
            }
        }

        /// <summary>A list of non-empty texts, kept verbatim apart from surrounding whitespace (no '|' splitting, unlike tags).</summary>
        public IReadOnlyList<string> Texts(string key)
        {
            var node = Find(key);
            if (node is null)
            {
                return [];
            }

            if (node is YamlSequenceNode seq && seq.Children.All(c => c is YamlScalarNode { Value: { } v } && v.Trim().Length > 0))
            {
                return seq.Children.Select(c => ((YamlScalarNode)c).Value!.Trim()).Distinct(StringComparer.Ordinal).ToArray();
            }

            Problem(key, $"`{key}` must be a list of non-empty texts, e.g. [\"internal R&D only\"]");
            return [];
        }

        public Fields? Mapping(string key)
        {
            var node = Find(key);
            if (node is null)
            {
                return null;
            }

            if (node is YamlMappingNode child)
            {
                return new Fields(child, source, prefix + key + ".", problems);
            }

            Problem(key, $"`{key}` must be a mapping of settings (indented keys below it)");
            return null;
        }

        public void RejectUnknown()
        {
            foreach (var entry in map.Children)
            {
                var key = Echo.Of((entry.Key as YamlScalarNode)?.Value ?? "?");
                if (!_seen.Contains(key))
                {
                    problems.Add($"{source}:{entry.Key.Start.Line}: {prefix}{key}: unknown field '{key}': check its spelling (known: {string.Join(", ", KnownKeys(prefix))})");
                }
            }
        }

        private string? Scalar(string key)
        {
            var node = Find(key);
            if (node is null)
            {
                return null;
            }

            if (node is YamlScalarNode { Value: { } value })
            {
                return value;
            }

            Problem(key, $"`{key}` must be a single value");
            return null;
        }

        private YamlNode? Find(string key)
        {
            _seen.Add(key);
            return map.Children.TryGetValue(new YamlScalarNode(key), out var node) ? node : null;
        }

        private static IEnumerable<string> KnownKeys(string prefix) => prefix switch
        {
            "local." => ["epochs", "batch_size", "learning_rate", "optimizer", "momentum", "weight_decay", "learning_rate_schedule", "final_learning_rate", "augment", "rounds_per_epoch"],
            "model." => ["file", "task", "loss", "licence", "origin", "onnx_template"],
            "merge." => ["strategy", "outer_learning_rate", "momentum"],
            "resources." => ["gpus", "gpu_memory", "memory", "cores", "tags"],
            "rights." => ["accept_constraints"],
            "evaluation." => ["split"],
            "round_policy." => ["close", "quorum", "deadline", "straggler_after"],
            _ => ["name", "recipe", "dataset", "exclude_assets", "shards", "rounds", "seed", "max_retries", "local", "merge", "resources", "rights", "sharding", "evaluation", "round_policy", "show", "model"],
        };
    }
}
