using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.OpenCue;

namespace RMTC.Farm.Core.Tests.OpenCue;

public sealed class CjslParserTests
{
    private static CjslSpec Parse(string xml) => CjslParser.Parse(xml, "job.xml");

    private static string Error(string xml) => Assert.Throws<JobSpecException>(() => Parse(xml)).Message;

    [Fact]
    public void Pyoutlines_real_output_parses_with_every_element_read()
    {
        var spec = Parse(CjslSamples.PyOutlineTwoLayers);

        Assert.Equal(new Version(1, 15), spec.Version);
        Assert.Equal(("local", "testing", "sh_010", "alice", 1000), (spec.Facility, spec.Show, spec.Shot, spec.User, spec.Uid!.Value));
        var job = Assert.Single(spec.Jobs);
        Assert.Equal("testing-sh_010-alice_comp_v2", job.Name);
        Assert.Equal((false, 1, 2, false), (job.Paused, job.Priority, job.MaxRetries!.Value, job.AutoEat));
        Assert.Empty(job.Env);
        Assert.Equal(["prep", "render"], job.Layers.Select(l => l.Name));
        var prep = job.Layers[0];
        Assert.Equal(("Render", "1-4", 1, 2.0, 4096L), (prep.Type, prep.Range, prep.Chunk, prep.Cores!.Value, prep.MemoryMiB!.Value));
        Assert.Equal([1, 2, 3, 4], prep.Frames);
        Assert.Equal(["general", "desktop"], prep.Tags);
        Assert.Equal(["shell"], prep.Services);
        Assert.Empty(prep.Outputs);
        Assert.Equal("/bin/prep.sh 3", prep.CommandFor(3, job.Name));
        var depend = Assert.Single(spec.Depends);
        Assert.Equal(("FRAME_BY_FRAME", false, "comp-v2", "render", "prep"), (depend.Type, depend.AnyFrame, depend.DependJob, depend.DependLayer, depend.OnLayer));
    }

    [Theory]
    [InlineData("SPI Cue Specification Language")]
    [InlineData("SPI Cue  Specification Language")]
    public void Both_spellings_of_the_public_id_are_accepted(string publicId)
    {
        var xml = CjslSamples.Training().Replace("SPI Cue Specification Language", publicId, StringComparison.Ordinal);
        Assert.Single(Parse(xml).Jobs);
    }

    [Fact]
    public void The_dtd_is_never_fetched()
    {
        // A system id that cannot be reached (nothing listens on port 1): the parser reads only the version from it.
        var xml = CjslSamples.Training().Replace("http://localhost:8080/spcue/dtd/", "http://127.0.0.1:1/dtd/", StringComparison.Ordinal);
        Assert.Equal(new Version(1, 15), Parse(xml).Version);
    }

    [Theory]
    [InlineData("1.0")]
    [InlineData("1.9")]
    [InlineData("1.15")]
    public void Versions_up_to_1_15_are_understood(string version) =>
        Assert.Equal(Version.Parse(version), Parse(CjslSamples.Training(version: version)).Version);

    [Fact]
    public void Newer_versions_and_a_missing_doctype_are_refused_with_the_fix()
    {
        Assert.Contains("CJSL version 1.16 is not understood: versions 1.0 to 1.15 are", Error(CjslSamples.Training(version: "1.16")));
        var noDocType = string.Join('\n', CjslSamples.Training().Split('\n').Where(l => !l.Contains("DOCTYPE", StringComparison.Ordinal)));
        Assert.Contains("no DOCTYPE: start the spec with <!DOCTYPE spec PUBLIC", Error(noDocType));
    }

    [Fact]
    public void Elements_newer_than_the_declared_version_are_refused()
    {
        var error = Error(CjslSamples.Training(version: "1.11", layerBody: "<gpus>1</gpus>"));
        Assert.Contains("<gpus> needs CJSL 1.12 or newer, but the DOCTYPE says 1.11", error);
    }

    [Theory]
    [InlineData("<cores>2.5</cores>", 2.5)]
    [InlineData("<cores>250</cores>", 2.5)]
    [InlineData("<cores>100</cores>", 1.0)]
    [InlineData("<cores>4.0</cores>", 4.0)]
    public void Cores_with_a_decimal_point_are_cores_and_integers_are_hundredths(string element, double cores) =>
        Assert.Equal(cores, Parse(CjslSamples.Training(layerBody: element)).Jobs[0].Layers[0].Cores);

    [Theory]
    [InlineData("32", 32L * 1024)]
    [InlineData("8g", 8L * 1024)]
    [InlineData("8gb", 8L * 1024)]
    [InlineData("512m", 512L)]
    [InlineData("1.5g", 1536L)]
    public void Memory_is_gb_unless_marked_m(string memory, long mib) =>
        Assert.Equal(mib, Parse(CjslSamples.Training(layerBody: $"<memory>{memory}</memory>")).Jobs[0].Layers[0].MemoryMiB);

    [Fact]
    public void Gpu_memory_and_the_deprecated_gpu_element_use_the_same_units()
    {
        Assert.Equal(16384L, Parse(CjslSamples.Training(layerBody: "<gpus>2</gpus><gpu_memory>16g</gpu_memory>")).Jobs[0].Layers[0].GpuMemoryMiB);
        Assert.Equal(512L, Parse(CjslSamples.Training(layerBody: "<gpu>512m</gpu>")).Jobs[0].Layers[0].GpuMemoryMiB);
    }

    [Fact]
    public void Env_keys_tags_and_paused_are_read()
    {
        var spec = Parse(CjslSamples.Training(
            jobBody: "<env><key name=\"RMTC_EPOCHS\">2</key></env>",
            layerBody: "<tags>gpu | lighting</tags><env><key name=\"RMTC_BATCH_SIZE\">16</key></env>")
            .Replace("<paused>False</paused>", "<paused>True</paused>", StringComparison.Ordinal));
        var job = spec.Jobs[0];
        Assert.True(job.Paused);
        Assert.Equal("2", job.Env["RMTC_EPOCHS"]);
        Assert.Equal("16", job.Layers[0].Env["RMTC_BATCH_SIZE"]);
        Assert.Equal(["gpu", "lighting"], job.Layers[0].Tags);
    }

    [Theory]
    [InlineData("train-denoiser", "rnd-denoise-alice_train_denoiser")]
    [InlineData("Train__Denoiser", "rnd-denoise-alice_train_denoiser")]
    [InlineData("rnd-denoise-alice_v2", "rnd-denoise-alice_v2")]
    public void Job_names_are_conformed_as_cuebot_does(string name, string conformed)
    {
        Assert.Equal(conformed, CjslParser.ConformJobName("rnd", "denoise", "alice", name, out var error));
        Assert.Null(error);
    }

    [Fact]
    public void A_job_name_suffix_shorter_than_3_characters_is_refused()
    {
        CjslParser.ConformJobName("rnd", "denoise", "alice", "x", out var error);
        Assert.Contains("must be at least 3 letters", error);
    }

    [Fact]
    public void Root_is_refused_by_user_name_as_cuebot_does()
    {
        var error = Error(CjslSamples.Training(user: "root", uid: "1000"));
        Assert.Contains("job.xml:7: <user>: Cannot launch jobs as root.", error);
    }

    [Fact]
    public void Uid_0_is_refused_even_under_another_name_as_cuebot_does()
    {
        // pyoutline run as root writes <uid>0</uid>. Cuebot's JobSpec refuses user "root" OR uid 0 with
        // "Cannot launch jobs as root." (pycue shows it as "Failed to launch and add job: ..."), and so do we:
        // a spec that would run as root on Cuebot must not run here either.
        var error = Error(CjslSamples.Training(user: "alice", uid: "0"));
        Assert.Contains("job.xml:8: <uid>: Cannot launch jobs as root.", error);
    }

    [Fact]
    public void Element_order_mistakes_name_the_element_its_line_and_the_order()
    {
        var xml = CjslSamples.Training().Replace("<chunk>1</chunk>", "", StringComparison.Ordinal)
            .Replace("<range>1-4</range>", "<chunk>1</chunk><range>1-4</range>", StringComparison.Ordinal);
        var error = Error(xml);
        Assert.Contains("job.xml:16: <range>: <range> is out of order in <layer>: the order is cmd, range, chunk", error);
    }

    [Fact]
    public void Unknown_and_repeated_elements_and_missing_required_ones_are_all_reported_at_once()
    {
        var xml = CjslSamples.Training(layerBody: "<memroy>4g</memroy>")
            .Replace("<maxretries>2</maxretries>", "<maxretries>2</maxretries><maxretries>3</maxretries>", StringComparison.Ordinal)
            .Replace("<chunk>1</chunk>", "", StringComparison.Ordinal);
        var problems = Assert.Throws<JobSpecException>(() => Parse(xml)).Problems;
        Assert.Contains(problems, p => p.Contains("<memroy> is not allowed in <layer>: it holds cmd, range, chunk, cores", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("job.xml:11: <maxretries>: <maxretries> appears more than once in <job>", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("<layer> needs <chunk>", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("<memory>lots</memory>", "job.xml:18: <memory>: <memory> must be a size such as 512m or 8g; a bare number means GB")]
    [InlineData("<cores>many</cores>", "<cores> must be a number of cores such as 2.0")]
    [InlineData("<threadable>maybe</threadable>", "<threadable> must be True or False (got 'maybe')")]
    [InlineData("<gpus>-1</gpus>", "<gpus> must be a whole number from 0 to 1024")]
    public void Bad_values_name_the_element_and_line(string element, string expected) =>
        Assert.Contains(expected, Error(CjslSamples.Training(layerBody: element)));

    [Fact]
    public void A_bad_range_a_bad_layer_type_and_a_short_shot_are_reported()
    {
        var xml = CjslSamples.Training(range: "1-x").Replace("type=\"Render\"", "type=\"Bake\"", StringComparison.Ordinal)
            .Replace("<shot>denoise</shot>", "<shot>d</shot>", StringComparison.Ordinal);
        var error = Error(xml);
        Assert.Contains("'1-x' is not a frame range part", error);
        Assert.Contains("<layer> needs type=\"Render\", \"Util\" or \"Post\" (got 'Bake')", error);
        Assert.Contains("the shot name 'd' is not in the proper format", error);
    }

    [Fact]
    public void Malformed_xml_gives_its_line()
    {
        var error = Error("<?xml version=\"1.0\"?>\n<spec>\n<show>x</shw>\n</spec>");
        Assert.StartsWith("job.xml:3: not well-formed XML", error);
    }

    [Fact]
    public void Yaml_and_xml_are_told_apart_by_the_first_character()
    {
        Assert.True(CjslParser.LooksLikeCjsl("\uFEFF  \n<?xml version=\"1.0\"?>"));
        Assert.False(CjslParser.LooksLikeCjsl("name: x\nrecipe: denoiser\n"));
    }
}
