using RMTC.Farm.Core.Jobs;
using Xunit.Abstractions;
using static RMTC.Farm.Core.Tests.Fuzz.YamlModel;

namespace RMTC.Farm.Core.Tests.Fuzz;

/// <summary>Hostile job.yaml: every input ends in a JobSpec or a JobSpecException that says what is wrong.</summary>
public sealed class JobSpecFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Recipes = ["denoiser", "classifier"];

    // YamlDotNet builds a node tree with marks for every token: tens of bytes per input byte is normal; a bomb is not.
    private const long AllocBase = 4 << 20;
    private const long AllocPerByte = 400;

    private static readonly YSchema Local = Schema(
        ("epochs", r => S(r.Next(1, 20))), ("batch_size", r => S(r.Next(1, 512))), ("learning_rate", r => S(r.NextDouble())),
        ("optimizer", r => S(r.Next(2) == 0 ? "adam" : "sgd")), ("momentum", r => S(r.NextDouble() * 0.99)), ("weight_decay", r => S(r.NextDouble() * 0.01)));

    private static readonly YSchema Model = Schema(
        ("file", r => S(r.Next(2) == 0 ? "../models/resnet.pt" : "/farm/models/unet.pt")), ("task", r => S("labelled-images")), ("loss", r => S("cross_entropy")),
        ("licence", r => S(r.Next(2) == 0 ? "Apache-2.0" : "proprietary")), ("origin", r => S($"fine-tuned from weights {r.Next(100)} under licence MIT")),
        ("onnx_template", r => S("../models/resnet.onnx")));

    private static readonly HashSet<string> ModelRequired = ["file", "task", "loss", "licence"];

    // Written whole: momentum only goes with sgd.
    private static YMap LocalBlock(Random r)
    {
        var map = Local.Valid(r);
        if (map.Entries.Any(e => e.Key == "momentum"))
        {
            map.Entries.RemoveAll(e => e.Key == "optimizer");
            map.Entries.Add(("optimizer", S("sgd")));
        }

        return map;
    }

    // A built-in recipe or, a third of the time, a model block in its place (exactly one of the two).
    private static YMap ValidSpec(Random r, IReadOnlySet<string>? required = null)
    {
        var map = Spec.Valid(r, required: required);
        var recipe = map.Entries.FindIndex(e => e.Key == "recipe");
        if (recipe >= 0 && r.Next(3) == 0)
        {
            var model = Model.Valid(r, required: ModelRequired);
            if (r.Next(2) == 0)
            {
                model.Entries.RemoveAll(e => e.Key is "task" or "loss");
                model.Entries.Add(("task", S("image-pairs")));
                model.Entries.Add(("loss", S(r.Next(2) == 0 ? "mse" : "l1")));
            }

            map.Entries[recipe] = ("model", model);
        }

        return map;
    }
    private static readonly YSchema Merge = Schema(("strategy", r => S(r.Next(2) == 0 ? "fedavg" : "nesterov")), ("outer_learning_rate", r => S(0.1 + r.NextDouble())), ("momentum", r => S(r.NextDouble() * 0.99)));
    private static readonly YSchema Resources = Schema(
        ("gpus", r => S(r.Next(0, 8))), ("gpu_memory", r => S($"{r.Next(1, 64)}g")), ("memory", r => S($"{r.Next(1, 4096)}m")),
        ("cores", r => S(r.Next(1, 64) / 2.0)), ("tags", r => r.Next(2) == 0 ? S("gpu | lighting") : Seq(S("gpu"), S("render"))));

    private static readonly YSchema Spec = Schema(
        ("name", r => S($"job-{r.Next(1000)}")),
        ("recipe", r => S(Recipes[r.Next(Recipes.Length)])),
        ("dataset", r => S(r.Next(2) == 0 ? "../datasets/patches" : "/farm/datasets/x")),
        ("shards", r => S(r.Next(1, 64))),
        ("rounds", r => S(r.Next(1, 10))),
        ("seed", r => S(r.NextInt64())),
        ("max_retries", r => S(r.Next(0, 10))),
        ("local", LocalBlock),
        ("merge", r => Merge.Valid(r)),
        ("resources", r => Resources.Valid(r)),
        ("rights", r => new YMap([("accept_constraints", Seq(S("internal R&D only")))])),
        ("exclude_assets", r => Seq(S(new string('a', 64)), S("sha256:" + new string('b', 64)))),
        ("sharding", r => S(r.Next(2) == 0 ? "iid" : "by-label")),
        ("evaluation", r => new YMap([("split", S("test"))])),
        ("show", r => S($"show-{r.Next(100)}")),
        ("round_policy", RoundPolicy));

    // Written whole: its fields depend on each other (quorum and deadline only with close: quorum).
    private static YNode RoundPolicy(Random r) => r.Next(2) == 0
        ? new YMap([("close", S("all")), ("straggler_after", S($"{r.Next(1, 120)}s"))])
        : new YMap([("close", S("quorum")), ("quorum", S(1)), ("deadline", S($"{r.Next(1, 60)}m")), ("straggler_after", S("90s"))]);

    private static readonly string[] AllKeys =
        [.. Spec.Keys.Keys, "model", .. Model.Keys.Keys, .. Local.Keys.Keys, .. Merge.Keys.Keys, .. Resources.Keys.Keys, "accept_constraints", "split", "close", "quorum", "deadline", "straggler_after"];

    private static readonly HashSet<string> Required = ["name", "recipe", "dataset"];

    /// <summary>A spec as the repository's examples write it (comments, block style).</summary>
    internal const string Sample = """
        # A denoiser for rendered patches.
        name: denoise-patches
        recipe: denoiser
        dataset: ../datasets/patches      # relative to this file
        shards: 4
        rounds: 3
        seed: 42
        max_retries: 3
        local:
          epochs: 1
          batch_size: 32
          learning_rate: 0.02
        merge:
          strategy: fedavg
        resources:
          gpus: 0
          memory: 2g
          tags: [gpu, lighting]
        rights:
          accept_constraints: ["internal R&D only"]
        """;

    internal static bool Parse(FuzzInput input)
    {
        // Local: the superset (the farm refuses a model block and non-default optimisers on top, with its own message).
        var spec = JobSpecParser.Parse(input.AsText(), "job.yaml", "/farm/jobs", Recipes, target: JobSpecTarget.Local);

        // A spec that passes must be one the scheduler can use as is.
        Assert.InRange(spec.Shards, 1, JobSpecParser.MaxShards);
        Assert.InRange(spec.Rounds, 1, JobSpecParser.MaxRounds);
        Assert.InRange(spec.Resources.MemoryMiB, 0, ByteSize.MaxMiB);
        Assert.InRange(spec.Resources.GpuMemoryMiB, 0, ByteSize.MaxMiB);
        Assert.True(double.IsFinite(spec.Resources.Cores) && double.IsFinite(spec.Local.LearningRate));
        Assert.True(Path.IsPathRooted(spec.Dataset));
        Assert.True(spec.Model is null || (Path.IsPathRooted(spec.Model.File) && spec.Recipe == ModelSpec.RecipeName));
        // Amplification bounded: what the spec costs downstream (the manifest stores it as JSON, at most 6 bytes per
        // character escaped) follows from the expanded-size limit, whatever aliases the text used.
        Assert.Empty(JobSpecLimits.Problems(spec));
        Assert.InRange(System.Text.Json.JsonSerializer.Serialize(spec).Length, 0, 6L * JobSpecLimits.DefaultMaxSpecBytes + 4096);
        return true;
    }

    /// <summary>A refusal: a JobSpecException whose message fits a gRPC status (see <see cref="JobSpecException.MaxMessageBytes"/>).</summary>
    internal static bool IsBoundedRefusal(Exception e) =>
        e is JobSpecException && System.Text.Encoding.UTF8.GetByteCount(e.Message) <= JobSpecException.MaxMessageBytes;

    private const string Head = "name: amp\nrecipe: denoiser\ndataset: /d\n";

    internal static readonly Func<Random, FuzzInput>[] Generators =
    [
        r => FuzzInput.Text(Write(ValidSpec(r, Required), r), "valid spec from the schema"),
        r => FuzzInput.Text(Write(MutateMap(r, ValidSpec(r, Required), AllKeys), r), "schema spec with keys dropped/duplicated/swapped/mistyped"),
        r => FuzzInput.Text(Write(MutateMap(r, MutateMap(r, ValidSpec(r), AllKeys), AllKeys), r), "schema spec, twice mutated"),
        r => FuzzInput.Text(Mutate.Lines(r, Sample), "sample with lines dropped/duplicated/swapped/re-indented/hostile values"),
        r => new FuzzInput(Mutate.Bytes(r, System.Text.Encoding.UTF8.GetBytes(Sample)), "sample with bit flips and byte edits"),
        r => FuzzInput.Text(Mutate.Truncate(r, Write(ValidSpec(r), r)), "truncated schema spec"),
        r => new FuzzInput(Mutate.Random(r, "abcdefghijklmnopqrstuvwxyz0123456789 :-[]{},&*!|>'\"#\n\t?%@`"), "random bytes"),
        r => FuzzInput.Text(Sample + "\n" + r.Next(3) switch
        {
            0 => Mutate.YamlBomb(r.Next(2, 10)),
            1 => "local: " + Mutate.DeepYaml(r, r.Next(1, 5000)),
            _ => "name: " + new string('n', r.Next(1, r.Next(8) == 0 ? 200_000 : 5_000)),
        }, "sample with a bomb, deep nesting or a long value appended"),
        r =>
        {
            var (name, build) = SpecAmplifiers.All[r.Next(SpecAmplifiers.All.Count)];
            return FuzzInput.Text(build(Head, r.Next(100, r.Next(8) == 0 ? 300_000 : 30_000)), "amplifier: " + name);
        },
    ];

    [Fact]
    public void Generated_job_specs_end_in_a_spec_or_a_clear_JobSpecException()
    {
        var stats = FuzzRunner.Run(output, "job.yaml", FuzzRunner.Seed(6001), Generators, FuzzRunner.Iterations(3000),
            Parse, IsBoundedRefusal, AllocBase, AllocPerByte);
        Assert.True(stats.Valid > 0 && stats.Rejected > 0, $"the generators should make both valid and invalid specs: {stats}");
    }

    [Fact]
    public void Every_truncation_of_a_valid_spec_ends_in_a_spec_or_a_clear_JobSpecException()
    {
        var inputs = Enumerable.Range(0, Sample.Length + 1).Select(n => FuzzInput.Text(Sample[..n], $"sample cut at {n}"));
        FuzzRunner.Check(output, "job.yaml truncations", 0, inputs, Parse, IsBoundedRefusal, AllocBase, AllocPerByte);
    }

    [Theory]
    [InlineData("value")]
    [InlineData("key")]
    [InlineData("tags")]
    public void A_billion_laughs_is_refused_in_bounded_time_and_memory(string where)
    {
        var bomb = Mutate.YamlBomb(9, "  ");
        var yaml = where switch
        {
            "value" => Sample + "\nlocal:\n" + bomb,
            "key" => Sample + "\nx:\n" + bomb + "  ? *l8\n  : 1\n",
            _ => "name: a\nrecipe: denoiser\ndataset: /d\nlocal:\n" + bomb + "resources: { tags: *l8 }\n",
        };
        var error = Assert.Throws<JobSpecException>(() => Parse(FuzzInput.Text(yaml, "bomb")));
        Assert.Contains("alias", error.Message, StringComparison.OrdinalIgnoreCase);
        FuzzRunner.Check(output, "job.yaml bomb " + where, 0, [FuzzInput.Text(yaml, "bomb " + where)], Parse, IsBoundedRefusal, AllocBase, AllocPerByte);
    }

    public static TheoryData<string> Amplifiers() => [.. SpecAmplifiers.All.Select(a => a.Name)];

    [Theory]
    [MemberData(nameof(Amplifiers))]
    public void Each_amplifier_is_refused_in_bounded_time_and_memory_with_a_bounded_message(string name)
    {
        var yaml = SpecAmplifiers.All.Single(a => a.Name == name).Build(Head, 100_000);
        var error = Assert.Throws<JobSpecException>(() => Parse(FuzzInput.Text(yaml, name)));
        output.WriteLine($"{name} ({yaml.Length} bytes): {error.Message[..Math.Min(400, error.Message.Length)]}");
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(error.Message), 1, JobSpecException.MaxMessageBytes);
        Assert.Matches("over the limit of|more than [0-9]+ bytes|unknown field", error.Message);
        FuzzRunner.Check(output, "job.yaml amplifier " + name, 0, [FuzzInput.Text(yaml, name)], Parse, IsBoundedRefusal, AllocBase, AllocPerByte);
    }

    [Fact]
    public void Aliases_of_a_long_scalar_are_refused_by_expanded_size_naming_the_limit_and_its_setting()
    {
        // The spec, scaled down: 8 KB of text, 5 MB once the aliases are written out.
        var yaml = Head + "resources:\n  tags: " + SpecAmplifiers.AliasedScalarList(5_000, 4_000) + "\n";
        var error = Assert.Throws<JobSpecException>(() => JobSpecParser.Parse(yaml, "job.yaml", "/farm/jobs", Recipes));
        Assert.Contains("job.yaml:5: the document expands to more than 262144 bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("(Coordinator:MaxJobSpecBytes)", error.Message, StringComparison.Ordinal);

        // The setting raises it; the field limits still hold.
        var raised = Assert.Throws<JobSpecException>(() => JobSpecParser.Parse(yaml, "job.yaml", "/farm/jobs", Recipes, maxSpecBytes: 64 << 20));
        output.WriteLine(raised.Message);
        Assert.Contains($"resources.tags: holds 1001 entries, over the limit of {JobSpecLimits.MaxTags}", raised.Message, StringComparison.Ordinal);
        Assert.Contains($"entry 1 is 5000 characters long, over the limit of {JobSpecLimits.MaxTagLength}", raised.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("resources: { tags: [{0}] }", "resources.tags: holds 65 entries, over the limit of 64")]
    [InlineData("resources: { tags: [gpu, {1}] }", "resources.tags: entry 2 is 101 characters long, over the limit of 100 for a tag")]
    [InlineData("resources: { tags: \"gpu | {1}\" }", "resources.tags: entry 2 is 101 characters long")]
    [InlineData("rights: { accept_constraints: [{0}] }", "rights.accept_constraints: holds 65 entries, over the limit of 64")]
    [InlineData("dataset: /{2}", "dataset: is 5001 characters long, over the limit of 4096")]
    [InlineData("evaluation: { split: {1} }", "")]
    public void Every_list_and_text_field_has_a_limit(string line, string expected)
    {
        var many = string.Join(", ", Enumerable.Range(0, 65).Select(i => $"t{i}"));
        var yaml = Head + line.Replace("{0}", many, StringComparison.Ordinal).Replace("{1}", new string('x', 101), StringComparison.Ordinal).Replace("{2}", new string('d', 5000), StringComparison.Ordinal) + "\n";
        if (expected.Length == 0)
        {
            // Under its limit (256): accepted.
            JobSpecParser.Parse(yaml, "job.yaml", "/farm/jobs", Recipes);
            return;
        }

        var error = Assert.Throws<JobSpecException>(() => JobSpecParser.Parse(yaml.Replace("dataset: /d\ndataset", "dataset", StringComparison.Ordinal), "job.yaml", "/farm/jobs", Recipes));
        Assert.Contains("job.yaml: " + expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ten_thousand_unknown_keys_give_the_first_problems_and_how_many_more_within_a_status_size()
    {
        // Found from outside: the whole list (2.5 MB) went into the gRPC status, over HTTP/2's header limit.
        var yaml = Head + string.Concat(Enumerable.Range(0, 10_000).Select(i => $"k{i:D5}: 1\n"));
        var error = Assert.Throws<JobSpecException>(() => JobSpecParser.Parse(yaml, "job.yaml", "/farm/jobs", Recipes));
        Assert.Equal(10_000, error.Problems.Count);
        Assert.StartsWith("the job spec has 10000 problems:\n  - job.yaml:4: k00000: unknown field 'k00000'", error.Message, StringComparison.Ordinal);
        Assert.EndsWith($"\n  - and {10_000 - JobSpecException.MaxListedProblems} more (fix these and check the spec again to see the rest)", error.Message, StringComparison.Ordinal);
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(error.Message), 1, JobSpecException.MaxMessageBytes);

        // Long problems: the byte bound holds before the count does.
        var wide = JobSpecException.Format([.. Enumerable.Range(0, 30).Select(i => $"p{i}: " + new string('\u00e9', 5_000))]);
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(wide), 1, JobSpecException.MaxMessageBytes);
        Assert.Contains(" more (fix these", wide, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(100)]
    [InlineData(100_000)]
    public void Deep_nesting_is_refused_before_it_can_overflow_the_stack(int depth)
    {
        var error = Assert.Throws<JobSpecException>(() => Parse(FuzzInput.Text(Sample + "\nlocal: " + new string('[', depth) + new string(']', depth), "deep")));
        Assert.Contains("nested", error.Message, StringComparison.Ordinal);
        Assert.Contains("job.yaml:21:", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dataset: \"/d\\0x\"", "job.yaml:3: dataset: `dataset` holds a NUL character")]
    [InlineData("resources: { memory: nan }", "`memory` must be a size such as 512m")]
    [InlineData("resources: { gpu_memory: 1e300t }", "`gpu_memory` is 1e300t, more than any node has: the limit is 1024 TiB")]
    [InlineData("max_retries: \"\\uD800\\U0010FFFF\"", "job.yaml:4: not valid YAML")]
    [InlineData("merge:\n  : fedavg\nshards: 2", "job.yaml:5: this key has no value (or this value has no key)")]
    public void Inputs_that_crashed_the_parser_are_refused_with_the_field_and_the_fix(string line, string expected)
    {
        // Found by fuzzing: a NUL in the dataset path threw ArgumentException from Path.GetFullPath, "nan" was accepted
        // as 0 MiB, 1e300t saturated to long.MaxValue MiB, a lone \uD800 escape threw ArgumentOutOfRangeException
        // out of YamlDotNet's scanner, and "  : fedavg" under a key made its parser end a mapping after a key with no
        // value, on which its loader threw ArgumentException (seed 777, input 12332).
        var error = Assert.Throws<JobSpecException>(() => JobSpecParser.Parse($"name: a\nrecipe: denoiser\ndataset: /d\n{line}\n".Replace("dataset: /d\ndataset", "dataset", StringComparison.Ordinal), "job.yaml", "/farm/jobs", Recipes));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_very_long_value_or_key_is_quoted_short_in_the_error()
    {
        // Found in the fuzz figures: a 200,000-character value or key came back whole in the message.
        var error = Assert.Throws<JobSpecException>(() => JobSpecParser.Parse(
            $"name: {new string('n', 200_000)}\nrecipe: denoiser\ndataset: /d\n{new string('k', 1000)}: 1\n", "job.yaml", "/farm/jobs", Recipes));
        Assert.Contains("(got 'nnnnnnnnnn", error.Message, StringComparison.Ordinal);
        Assert.Contains("... (200000 characters)')", error.Message, StringComparison.Ordinal);
        Assert.Contains("unknown field 'kkkkkkkkkk", error.Message, StringComparison.Ordinal);
        Assert.InRange(error.Message.Length, 1, 2000);
    }

    [Fact]
    public void Every_spec_written_from_the_schema_is_accepted()
    {
        // The other half of the guarantee: hardening must not refuse valid input (an alias of a plain value included).
        for (var i = 0; i < 300; i++)
        {
            var input = Generators[0](new Random(i));
            try
            {
                Parse(input);
            }
            catch (JobSpecException e)
            {
                Assert.Fail(e.Message + "\n" + input.AsText());
            }
        }

        var spec = JobSpecParser.Parse("name: &n abc\nrecipe: denoiser\ndataset: /d\nevaluation: { split: *n }\nresources: { tags: [*n, b] }\n", "job.yaml", "/farm/jobs", Recipes);
        Assert.Equal("abc", spec.Evaluation!.Split);
        Assert.Equal(["abc", "b"], spec.Resources.Tags);
    }
}
