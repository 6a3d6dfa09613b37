using System.Xml.Linq;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.OpenCue;
using Xunit.Abstractions;

namespace RMTC.Farm.Core.Tests.Fuzz;

/// <summary>
/// Hostile OpenCue specs (CJSL XML), through the whole path LaunchSpec takes: parse, then turn into training jobs.
/// Every input ends in job specs or a JobSpecException that says what is wrong.
/// </summary>
public sealed class CjslFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Recipes = ["denoiser", "classifier"];

    // A nine-character range may ask for FrameSet.MaxFrames (100,000) frames: a fixed cost of a few MiB, by design.
    private const long AllocBase = 16 << 20;
    private const long AllocPerByte = 400;

    private const string DocType = "<!DOCTYPE spec PUBLIC \"SPI Cue Specification Language\" \"http://localhost:8080/spcue/dtd/cjsl-1.15.dtd\">";

    internal static bool Parse(FuzzInput input)
    {
        var spec = CjslParser.Parse(input.AsText(), "spec.xml");
        var jobs = CjslTraining.ToJobSpecs(spec, "spec.xml", input.Bytes.Length % 2 == 0 ? null : "/farm/jobs", Recipes);
        foreach (var job in jobs)
        {
            Assert.InRange(job.Shards, 1, JobSpecParser.MaxShards);
            Assert.InRange(job.Resources.MemoryMiB, 0, ByteSize.MaxMiB);
            Assert.InRange(job.Resources.GpuMemoryMiB, 0, ByteSize.MaxMiB);
            Assert.True(Path.IsPathRooted(job.Dataset));
        }

        return true;
    }

    /// <summary>A training spec as a tree: spec, job(s), layers, one training layer, env.</summary>
    private static XElement ValidSpec(Random r)
    {
        var layer = new XElement("layer", new XAttribute("name", "train"), new XAttribute("type", "Render"),
            new XElement("cmd", $"rmtc train --recipe {Recipes[r.Next(2)]} --dataset /farm/datasets/patches --rounds {r.Next(1, 5)} --seed {r.Next()}"),
            new XElement("range", r.Next(4) switch { 0 => "1-4", 1 => "1-10x2", 2 => "1,3,5", _ => "1-8y2" }),
            new XElement("chunk", "1"));
        if (r.Next(2) == 0)
        {
            layer.Add(new XElement("cores", r.Next(2) == 0 ? "2.0" : "250"));
        }

        if (r.Next(2) == 0)
        {
            layer.Add(new XElement("memory", r.Next(2) == 0 ? "8g" : "512m"));
        }

        if (r.Next(2) == 0)
        {
            layer.Add(new XElement("gpus", "1"), new XElement("gpu_memory", "4g"));
        }

        if (r.Next(2) == 0)
        {
            layer.Add(new XElement("tags", "gpu | lighting"));
        }

        layer.Add(new XElement("env", new XElement("key", new XAttribute("name", "RMTC_EPOCHS"), r.Next(1, 4))));
        var job = new XElement("job", new XAttribute("name", $"train-{r.Next(100)}"),
            new XElement("paused", "False"), new XElement("maxretries", r.Next(0, 5)), new XElement("env"), new XElement("layers", layer));
        return new XElement("spec",
            new XElement("facility", "local"), new XElement("show", "rnd"), new XElement("shot", "denoise"),
            new XElement("user", "alice"), new XElement("uid", "1000"), job);
    }

    /// <summary>Structure-aware edits: drop, duplicate, swap, move or mistype elements and attributes anywhere in the tree.</summary>
    private static XElement MutateTree(Random r, XElement spec)
    {
        var edits = 1 + r.Next(4);
        for (var e = 0; e < edits; e++)
        {
            var all = spec.DescendantsAndSelf().ToList();
            var target = all[r.Next(all.Count)];
            switch (r.Next(10))
            {
                case 0 when target != spec:
                    target.Remove();
                    break;
                case 1 when target != spec:
                    target.AddAfterSelf(new XElement(target));
                    break;
                case 2 when target.Elements().Count() > 1:
                    var kids = target.Elements().ToList();
                    var a = kids[r.Next(kids.Count)];
                    var b = kids[r.Next(kids.Count)];
                    if (a != b)
                    {
                        var copy = new XElement(a);
                        a.ReplaceWith(new XElement(b));
                        b.ReplaceWith(copy);
                    }

                    break;
                case 3 when !target.HasElements:
                    target.Value = Xmlable(Mutate.HostileScalar(r));
                    break;
                case 4:
                    target.Add(new XElement(Names[r.Next(Names.Length)], Xmlable(Mutate.HostileScalar(r))));
                    break;
                case 5:
                    target.SetAttributeValue(r.Next(3) switch { 0 => "name", 1 => "type", _ => "anyframe" }, Xmlable(Mutate.HostileScalar(r)));
                    break;
                case 6 when target != spec:
                    // Move an element somewhere it does not belong.
                    target.Remove();
                    all[r.Next(all.Count)].Add(target);
                    break;
                case 7:
                    target.Add(new XElement("depends", new XElement("depend", new XAttribute("type", "JOB_ON_JOB"), new XElement("depjob", "a"), new XElement("onjob", "b"))));
                    break;
                case 8 when !target.HasElements && target.Name.LocalName is "cmd":
                    target.Value = "rmtc train " + Xmlable(Mutate.HostileScalar(r)) + " --" + Flags[r.Next(Flags.Length)] + " " + Xmlable(Mutate.HostileScalar(r));
                    break;
                default:
                    if (!target.HasElements)
                    {
                        target.Value = r.Next(3) switch { 0 => "-2147483648-2147483647y" + r.Next(1, 3), 1 => "1-" + r.Next() + "x" + r.Next(1, 1000), _ => "1-10y1" };
                    }

                    break;
            }
        }

        return spec;
    }

    private static readonly string[] Names = ["cmd", "range", "chunk", "cores", "memory", "gpus", "gpu_memory", "tags", "env", "key", "layer", "layers", "job", "show", "uid", "maxretries", "priority", "outputs", "output", "services", "limits", "timeout"];

    private static readonly string[] Flags = [.. CjslTraining.Flags, "unknown", "dataset=/x", "rounds=0"];

    /// <summary>XML 1.0 cannot hold NUL or lone surrogates at all; keep the rest of the hostile value.</summary>
    private static string Xmlable(string s) => new(s.Where(c => XmlCharOk(c)).ToArray());

    private static bool XmlCharOk(char c) => c is '\t' or '\n' or '\r' || (c >= ' ' && !char.IsSurrogate(c) && c != '\uFFFE' && c != '\uFFFF');

    private static string Serialize(XElement spec, Random r)
    {
        var header = r.Next(10) switch
        {
            0 => "",
            1 => "<!DOCTYPE spec PUBLIC \"SPI Cue Specification Language\" \"http://localhost:8080/spcue/dtd/cjsl-" + Mutate.HostileScalar(r) + ".dtd\">",
            2 => "<!DOCTYPE spec PUBLIC \"SPI Cue Specification Language\" \"http://x/cjsl-1.15.dtd\" [" + Dtds[r.Next(Dtds.Length)] + "]>",
            3 => "<!DOCTYPE spec PUBLIC \"SPI Cue  Specification Language\" \"http://localhost:8080/spcue/dtd/cjsl-1." + r.Next(0, 20) + ".dtd\">",
            _ => DocType,
        };
        var body = spec.ToString(r.Next(2) == 0 ? SaveOptions.DisableFormatting : SaveOptions.None);
        if (header.Contains("ENTITY", StringComparison.Ordinal) && r.Next(2) == 0)
        {
            body = body.Replace("<show>rnd</show>", "<show>&e;</show>", StringComparison.Ordinal);
        }

        return "<?xml version=\"1.0\"?>\n" + header + "\n" + body;
    }

    /// <summary>Internal DTD subsets an attacker would try: entity expansion, external entities and DTDs, recursion.</summary>
    private static readonly string[] Dtds =
    [
        "<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">",
        "<!ENTITY e SYSTEM \"file:///etc/passwd\">",
        "<!ENTITY e SYSTEM \"http://127.0.0.1:9/secret\">",
        "<!ENTITY % p SYSTEM \"http://127.0.0.1:9/evil.dtd\"> %p; <!ENTITY e \"x\">",
        "<!ENTITY e \"&e;\">",
        "<!ENTITY e \"<job name='injected'/>\">",
        "<!ELEMENT spec ANY><!ATTLIST spec a CDATA #FIXED \"x\"><!ENTITY e \"rnd\">",
    ];

    /// <summary>A hand-written spec (pretty-printed, comments, env keys) for text and byte mutations.</summary>
    internal static readonly string Sample = "<?xml version=\"1.0\"?>\n" + DocType + "\n" + """
        <spec>
          <facility>local</facility>
          <show>rnd</show>
          <shot>denoise</shot>
          <user>alice</user>
          <uid>1000</uid>
          <job name="train-denoiser">
            <paused>False</paused>
            <maxretries>2</maxretries>
            <env><key name="RMTC_EPOCHS">2</key></env>
            <layers>
              <layer name="train" type="Render">
                <!-- one frame per shard -->
                <cmd>rmtc train --recipe denoiser --dataset /farm/datasets/patches --rounds 3 --seed 42</cmd>
                <range>1-4</range>
                <chunk>1</chunk>
                <cores>2.0</cores>
                <memory>8g</memory>
                <gpus>1</gpus>
                <gpu_memory>4g</gpu_memory>
                <tags>gpu | lighting</tags>
              </layer>
            </layers>
          </job>
        </spec>
        """;

    internal static readonly Func<Random, FuzzInput>[] Generators =
    [
        r => FuzzInput.Text(Serialize(ValidSpec(r), r), "valid spec from the model"),
        r => FuzzInput.Text(Serialize(MutateTree(r, ValidSpec(r)), r), "model spec with elements dropped/duplicated/swapped/moved/mistyped"),
        r => FuzzInput.Text(Serialize(MutateTree(r, MutateTree(r, ValidSpec(r))), r), "model spec, twice mutated"),
        r => FuzzInput.Text(Mutate.Lines(r, Sample), "sample with lines dropped/duplicated/swapped/hostile values"),
        r => new FuzzInput(Mutate.Bytes(r, System.Text.Encoding.UTF8.GetBytes(Sample)), "sample with bit flips and byte edits"),
        r => FuzzInput.Text(Mutate.Truncate(r, Serialize(ValidSpec(r), r)), "truncated model spec"),
        r => new FuzzInput(Mutate.Random(r, "<>/=\"' abcdefghijklmnopqrstuvwxyz0123456789!?-&;#[]\n"), "random bytes"),
        r => FuzzInput.Text(r.Next(3) switch
        {
            0 => Sample.Replace("<os>", "", StringComparison.Ordinal).Replace("<paused>False</paused>", "<os>" + string.Concat(Enumerable.Repeat("<a>", r.Next(1, 5000))) + "</os>", StringComparison.Ordinal),
            1 => Sample.Replace("<tags>gpu | lighting</tags>", "<tags>" + new string('t', r.Next(1, r.Next(8) == 0 ? 200_000 : 5_000)) + "</tags>", StringComparison.Ordinal),
            _ => Sample.Replace("<range>1-4</range>", "<range>" + string.Join(",", Enumerable.Repeat("1-" + r.Next(1, 100_000), r.Next(1, 2000))) + "</range>", StringComparison.Ordinal),
        }, "sample with deep nesting, a long value or a long frame range"),
    ];

    [Fact]
    public void Generated_cjsl_ends_in_job_specs_or_a_clear_JobSpecException()
    {
        var stats = FuzzRunner.Run(output, "cjsl", FuzzRunner.Seed(6003), Generators, FuzzRunner.Iterations(3000),
            Parse, e => e is JobSpecException, AllocBase, AllocPerByte);
        Assert.True(stats.Valid > 0 && stats.Rejected > 0, $"the generators should make both valid and invalid specs: {stats}");
    }

    [Fact]
    public void Every_truncation_of_a_valid_spec_ends_in_job_specs_or_a_clear_JobSpecException()
    {
        Assert.True(Parse(FuzzInput.Text(Sample, "sample")));
        var inputs = Enumerable.Range(0, Sample.Length + 1).Select(n => FuzzInput.Text(Sample[..n], $"sample cut at {n}"));
        FuzzRunner.Check(output, "cjsl truncations", 0, inputs, Parse, e => e is JobSpecException, AllocBase, AllocPerByte);
    }

    [Theory]
    [InlineData(0, "MaxCharactersFromEntities")]
    [InlineData(1, "<show>")]
    [InlineData(2, "<show>")]
    [InlineData(3, "<show>")]
    [InlineData(4, "not well-formed XML")]
    public void Entity_expansion_and_external_entities_are_refused_or_empty_and_nothing_is_fetched(int dtd, string expected)
    {
        var xml = Sample.Replace(DocType, DocType[..^1] + " [" + Dtds[dtd] + "]>", StringComparison.Ordinal)
            .Replace("<show>rnd</show>", "<show>&e;</show>", StringComparison.Ordinal);
        var error = Assert.Throws<JobSpecException>(() => Parse(FuzzInput.Text(xml, "dtd")));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cjsl-99999999999.1.dtd", "CJSL version 99999999999.1 in the DOCTYPE's system id is not understood")]
    [InlineData("cjsl-\u0661.1.dtd", "the DOCTYPE's system id must end in cjsl-1.N.dtd")]
    public void A_version_that_is_not_a_number_is_refused(string systemId, string expected)
    {
        // Found by fuzzing: int.Parse threw OverflowException, and \d matched Arabic-Indic digits that int.Parse refuses.
        var error = Assert.Throws<JobSpecException>(() => Parse(FuzzInput.Text(Sample.Replace("cjsl-1.15.dtd", systemId, StringComparison.Ordinal), "version")));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<range>1-10y1</range>", "'1-10y1' selects no frames")]
    [InlineData("<range>-2147483648-2147483647y1</range>", "lists more than 1000000 frames counting repeats")]
    [InlineData("<range>1-2147483647x1000000000</range>", "")]
    [InlineData("<memory>99999999999999999999999g</memory>", "<memory> is 99999999999999999999999g, more than any host has")]
    public void Ranges_and_sizes_that_crashed_hung_or_overflowed_are_refused(string element, string expected)
    {
        // Found by fuzzing: 1-10y1 (every frame left out) gave an empty frame list and ToJobSpecs threw
        // ArgumentOutOfRangeException; -2147483648-2147483647y1 walked 4 billion frames (74 s); a huge <memory>
        // saturated to long.MaxValue MiB.
        var name = element[1..element.IndexOf('>', StringComparison.Ordinal)];
        var xml = System.Text.RegularExpressions.Regex.Replace(Sample, $"<{name}>[^<]*</{name}>", element);
        if (expected.Length == 0)
        {
            // Three frames far apart: accepted, and found without walking two billion numbers.
            var stats = FuzzRunner.Check(output, "cjsl sparse range", 0, [FuzzInput.Text(xml, "sparse")], Parse, e => false, AllocBase, AllocPerByte);
            Assert.Equal(1, stats.Valid);
            return;
        }

        var error = Assert.Throws<JobSpecException>(() => Parse(FuzzInput.Text(xml, element)));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deep_nesting_is_refused_before_loading_the_document()
    {
        // Found by fuzzing: 100,000 nested elements took over a minute to load.
        var xml = Sample.Replace("<paused>False</paused>", "<os>" + string.Concat(Enumerable.Repeat("<a>", 100_000)) + string.Concat(Enumerable.Repeat("</a>", 100_000)) + "</os>", StringComparison.Ordinal);
        var error = Assert.Throws<JobSpecException>(() => Parse(FuzzInput.Text(xml, "deep")));
        Assert.Contains("<a> is nested more than 64 elements deep", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_very_long_value_is_quoted_short_in_the_error()
    {
        // Found in the fuzz figures: a long <uid> or frame range came back whole in the message (twice for a range).
        var xml = Sample.Replace("<uid>1000</uid>", "<uid>" + new string('u', 100_000) + "</uid>", StringComparison.Ordinal)
            .Replace("<range>1-4</range>", "<range>" + string.Join(",", Enumerable.Repeat("1-99999", 20_000)) + "</range>", StringComparison.Ordinal);
        var error = Assert.Throws<JobSpecException>(() => Parse(FuzzInput.Text(xml, "long")));
        Assert.Contains("(got 'uuuuuuuuuu", error.Message, StringComparison.Ordinal);
        Assert.Contains("... (100000 characters)')", error.Message, StringComparison.Ordinal);
        Assert.Contains("lists more than 1000000 frames counting repeats", error.Message, StringComparison.Ordinal);
        Assert.InRange(error.Message.Length, 1, 2000);
    }

    [Fact]
    public void Every_spec_written_from_the_model_is_accepted()
    {
        // Hardening must not refuse valid input.
        for (var i = 0; i < 200; i++)
        {
            var xml = "<?xml version=\"1.0\"?>\n" + DocType + "\n" + ValidSpec(new Random(i));
            Assert.True(Parse(FuzzInput.Text(xml, "model")), xml);
        }
    }
}
