using RMTC.Farm.Core.Datasets;
using Xunit.Abstractions;
using static RMTC.Farm.Core.Tests.Fuzz.YamlModel;

namespace RMTC.Farm.Core.Tests.Fuzz;

/// <summary>Hostile dataset.yaml: every input ends in a descriptor or a DatasetException that says what is wrong.</summary>
public sealed class DatasetYamlFuzzTests(ITestOutputHelper output)
{
    private const long AllocBase = 4 << 20;
    private const long AllocPerByte = 400;

    private static readonly string[] Labels = ["cawg.ai_training", "cawg.ai_generative_training", "cawg.data_mining", "cawg.ai_inference", "c2pa.ai_training"];

    private static YNode Assertion(Random r) => r.Next(4) switch
    {
        0 => S("allowed"),
        1 => S("notAllowed"),
        2 => new YMap([("use", S("constrained")), ("constraint_info", S("internal R&D only"))]),
        _ => new YMap([("use", S("allowed"))]),
    };

    private static YMap Rights(Random r)
    {
        var map = new YMap([]);
        foreach (var label in Labels.Where(_ => r.Next(2) == 0))
        {
            map.Entries.Add((label, Assertion(r)));
        }

        return map;
    }

    private static YNode Assets(Random r) => new YSeq(
    [
        new YMap([("path", S("samples/000001.safetensors")), ("rights", Rights(r)), ("licence", S("CC-BY-4.0"))]),
        new YMap([("sha256", S((r.Next(2) == 0 ? "sha256:" : "") + new string('a', 64))), ("owner", S("Studio"))]),
    ]);

    private static readonly YSchema Descriptor = Schema(
        ("name", r => S($"patches-{r.Next(100)}")),
        ("version", r => S(r.Next(1, 5))),
        ("description", r => S("Rendered patches")),
        ("licence", r => S("CC-BY-4.0")),
        ("license", r => S("CC-BY-4.0")),
        ("owner", r => S("RMTC Studio")),
        ("consent", r => S("staff renders")),
        ("rights", Rights),
        ("assets", Assets),
        ("kind", r => S(r.Next(2) == 0 ? "image-pairs" : "labelled-images")),
        ("sample_shape", r => Seq(S(r.Next(1, 4)), S(r.Next(1, 64)), S(r.Next(1, 64)))),
        ("classes", r => Seq(S("cat"), S("dog"), S("bird"))),
        ("splits", r => new YMap([("test", S("samples/test")), ("validation", S("samples/val"))])));

    private static readonly string[] AllKeys =
        [.. Descriptor.Keys.Keys, .. Labels, "use", "constraint_info", "path", "sha256", "test", "train"];

    private static readonly HashSet<string> Required = ["name", "kind", "sample_shape", "classes"];

    internal const string Sample = """
        # RMTC.Farm dataset descriptor: samples/*.safetensors, one sample per file.
        name: "studio-patches"
        version: "2"
        licence: "CC-BY-4.0"
        owner: "RMTC Studio"
        consent: "staff renders"
        rights:
          cawg.ai_training: allowed
          cawg.ai_generative_training: { use: constrained, constraint_info: "internal R&D only" }
          c2pa.data_mining: notAllowed
        assets:
          - path: "samples/000012.safetensors"
            rights: { cawg.ai_training: notAllowed }
          - sha256: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            licence: "CC0-1.0"
        kind: "labelled-images"
        sample_shape: [1, 28, 28]
        classes: ["shirt", "boot", "bag"]
        splits:
          test: samples/test
        """;

    internal static bool Parse(FuzzInput input)
    {
        var d = Dataset.ParseDescriptor(input.AsText());

        // A descriptor that passes must be usable as is.
        Assert.False(string.IsNullOrWhiteSpace(d.Name));
        Assert.Contains(d.Kind, DatasetKinds.All);
        Assert.True(d.SampleShape.Length == 3 && d.SampleShape.All(s => s > 0));
        Assert.All(d.Splits.Values, f => Assert.StartsWith("samples/", f));
        return true;
    }

    internal static readonly Func<Random, FuzzInput>[] Generators =
    [
        r => FuzzInput.Text(Write(Descriptor.Valid(r, required: Required), r), "valid descriptor from the schema"),
        r => FuzzInput.Text(Write(MutateMap(r, Descriptor.Valid(r, required: Required), AllKeys), r), "schema descriptor with keys dropped/duplicated/swapped/mistyped"),
        r => FuzzInput.Text(Write(MutateMap(r, MutateMap(r, Descriptor.Valid(r), AllKeys), AllKeys), r), "schema descriptor, twice mutated"),
        r => FuzzInput.Text(Mutate.Lines(r, Sample), "sample with lines dropped/duplicated/swapped/re-indented/hostile values"),
        r => new FuzzInput(Mutate.Bytes(r, System.Text.Encoding.UTF8.GetBytes(Sample)), "sample with bit flips and byte edits"),
        r => FuzzInput.Text(Mutate.Truncate(r, Write(Descriptor.Valid(r), r)), "truncated schema descriptor"),
        r => new FuzzInput(Mutate.Random(r, "abcdefghijklmnopqrstuvwxyz0123456789 :-[]{},&*!|>'\"#\n\t?%@`"), "random bytes"),
        r => FuzzInput.Text(Sample + "\n" + r.Next(3) switch
        {
            0 => "description:\n" + Mutate.YamlBomb(r.Next(2, 10), "  "),
            1 => "description: " + Mutate.DeepYaml(r, r.Next(1, 5000)),
            _ => "description: " + new string('d', r.Next(1, r.Next(8) == 0 ? 200_000 : 5_000)),
        }, "sample with a bomb, deep nesting or a long value appended"),
    ];

    [Fact]
    public void Generated_dataset_yaml_ends_in_a_descriptor_or_a_clear_DatasetException()
    {
        var stats = FuzzRunner.Run(output, "dataset.yaml", FuzzRunner.Seed(6002), Generators, FuzzRunner.Iterations(3000),
            Parse, e => e is DatasetException, AllocBase, AllocPerByte);
        Assert.True(stats.Valid > 0 && stats.Rejected > 0, $"the generators should make both valid and invalid descriptors: {stats}");
    }

    [Fact]
    public void Every_truncation_of_a_valid_descriptor_ends_in_a_descriptor_or_a_clear_DatasetException()
    {
        var inputs = Enumerable.Range(0, Sample.Length + 1).Select(n => FuzzInput.Text(Sample[..n], $"sample cut at {n}"));
        FuzzRunner.Check(output, "dataset.yaml truncations", 0, inputs, Parse, e => e is DatasetException, AllocBase, AllocPerByte);
    }

    [Fact]
    public void The_sample_is_valid()
    {
        var d = Dataset.ParseDescriptor(Sample);
        Assert.Equal(("studio-patches", 3), (d.Name, d.Classes.Count));
    }

    [Theory]
    [InlineData("sample_shape: [1, 28, 99999999999]", "line 3: `sample_shape` must be a list of three positive whole numbers")]
    [InlineData("sample_shape: [1, 28, 2.5]", "(got '2.5')")]
    [InlineData("sample_shape: {c: 1}", "line 3: `sample_shape` must be a list")]
    [InlineData("sample_shape: [1, 2, 3]\nclasses: {a: b}", "line 4: `classes` must be a list of class names")]
    [InlineData("sample_shape: [1, 2, 3]\nclasses: [a, [b]]", "line 4: `classes` must be a list of class names, e.g. [cat, dog]; a class name is text")]
    [InlineData("sample_shape: [1, 2, 3]\nowner: [a]", "line 4: `owner` must be a text value, not a list or mapping")]
    [InlineData("sample_shape: [1, 2, 3]\nrights: &r { cawg.ai_training: *r }", "line 4: the alias *r repeats a list or mapping")]
    [InlineData("sample_shape: [1, 2, 3]\nrights:\n  : allowed\nowner: x", "line 5: this key has no value (or this value has no key)")]
    public void Wrong_types_name_the_key_and_line_instead_of_a_deserializer_message(string tail, string expected)
    {
        // Found by fuzzing: the deserializer answered "Arithmetic operation resulted in an overflow." and
        // "No node deserializer was able to deserialize the node into type System.String".
        var error = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor($"name: a\nkind: image-pairs\n{tail}\n"));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Quoted_null_is_text_and_bare_null_is_absent_as_before()
    {
        var d = Dataset.ParseDescriptor("name: a\nkind: image-pairs\nsample_shape: [1, 2, 3]\nowner: ~\nconsent: \"null\"\nclasses: [x, y]\n");
        Assert.Equal(("", "null"), (d.Owner, d.Consent));
        var missing = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor("name: ~\nkind: image-pairs\nsample_shape: [1, 2, 3]\n"));
        Assert.Contains("missing `name`", missing.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(100)]
    [InlineData(100_000)]
    public void Deep_nesting_is_refused_before_it_can_overflow_the_stack(int depth)
    {
        // Found by fuzzing: 100,000 nested '[' overflowed the stack while YamlDotNet built its node tree (the process died).
        var error = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor("name: a\ndescription: " + new string('[', depth) + new string(']', depth)));
        Assert.Contains("dataset.yaml line 2: lists and mappings are nested more than 64 levels deep", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_descriptor_written_from_the_schema_is_accepted_when_consistent()
    {
        // Hardening must not refuse valid input. The schema may pair kind image-pairs with classes or both licence
        // spellings (valid) or c2pa/cawg duplicates that disagree (invalid), so only a refusal naming a YAML-level
        // reason counts as a false refusal.
        for (var i = 0; i < 300; i++)
        {
            var input = Generators[0](new Random(i));
            try
            {
                Parse(input);
            }
            catch (DatasetException e) when (!e.Message.Contains("YAML", StringComparison.Ordinal) && !e.Message.Contains("alias", StringComparison.Ordinal)
                && !e.Message.Contains("nested", StringComparison.Ordinal) && !e.Message.Contains("has no value", StringComparison.Ordinal))
            {
            }
        }

        var d = Dataset.ParseDescriptor("name: &n abc\nowner: *n\nkind: image-pairs\nsample_shape: [1, 2, 3]\n");
        Assert.Equal("abc", d.Owner);
    }

    [Fact]
    public void Aliases_of_a_long_scalar_are_refused_by_expanded_size_in_dataset_yaml_and_in_import_sidecars()
    {
        // 40 KB of text, 100 MB once the aliases are written out.
        var yaml = "name: a\nkind: labelled-images\nsample_shape: [1, 2, 3]\nclasses: " + SpecAmplifiers.AliasedScalarList(20_000, 20_000) + "\n";
        var error = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor(yaml));
        Assert.Contains($"dataset.yaml line 4: the document expands to more than {Dataset.MaxDescriptorBytes} bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("Dataset.MaxDescriptorBytes", error.Message, StringComparison.Ordinal);

        var dir = Directory.CreateTempSubdirectory("rmtc-sidecar-").FullName;
        try
        {
            var sidecar = Path.Combine(dir, "meta.yaml");
            File.WriteAllText(sidecar, "name: a\nclasses: " + SpecAmplifiers.AliasedScalarList(20_000, 20_000) + "\n");
            var refused = Assert.Throws<DatasetException>(() => RMTC.Farm.Core.Datasets.Import.DatasetMetadata.ReadSidecar(sidecar));
            Assert.Contains("meta.yaml line 2: the document expands to more than", refused.Message, StringComparison.Ordinal);

            // A file over the limit is refused unread.
            File.WriteAllText(sidecar, "name: a\n#" + new string('x', Dataset.MaxDescriptorBytes) + "\n");
            var big = Assert.Throws<DatasetException>(() => RMTC.Farm.Core.Datasets.Import.DatasetMetadata.ReadSidecar(sidecar));
            Assert.Contains($"over the limit of {Dataset.MaxDescriptorBytes} (Dataset.MaxDescriptorBytes", big.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
