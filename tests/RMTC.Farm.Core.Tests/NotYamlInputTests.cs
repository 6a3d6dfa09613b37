using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Jobs;

namespace RMTC.Farm.Core.Tests;

/// <summary>Files that are not YAML at all, given where a job spec or a dataset.yaml is expected.</summary>
public sealed class NotYamlInputTests
{
    private static readonly string[] Recipes = ["denoiser", "classifier"];

    [Theory]
    [InlineData("\u007fELF\u0002\u0001\u0001\0\0", "job.yaml:1: not a text file: control character U+007F at column 1, as in binary data.")]
    [InlineData("name: a\nrecipe: denoiser\n\0\0\0", "job.yaml:3: not a text file: control character U+0000 at column 1")]
    [InlineData("{\"name\": \"a\",\n \"recipe\": [\"denoiser\"}", "job.yaml:2: not valid YAML:")]
    [InlineData("name: a\nrecipe: \"denoiser\ndataset: d\n", "job.yaml:2: not valid YAML: While scanning a multi-line double-quoted scalar")]
    public void A_job_spec_that_is_not_yaml_says_so_where_and_what_a_spec_looks_like(string text, string expected)
    {
        var error = Assert.Throws<JobSpecException>(() => JobSpecParser.Parse(text, "job.yaml", "/farm/jobs", Recipes));
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("A job spec is a YAML mapping of `key: value` lines such as `name: denoise-shot42`", error.Message, StringComparison.Ordinal);
        Assert.Contains("(examples in farm/jobs/)", error.Message, StringComparison.Ordinal);
        Assert.Contains("an OpenCue spec is XML that starts with <!DOCTYPE spec", error.Message, StringComparison.Ordinal);
        Assert.Equal(text.TrimStart().StartsWith('{'), error.Message.Contains("JSON is read as YAML", StringComparison.Ordinal));
    }

    [Fact]
    public void A_tab_and_a_carriage_return_are_text()
    {
        var spec = JobSpecParser.Parse("name: a\r\nrecipe: denoiser\r\ndataset: d # a\tcomment\r\n", "job.yaml", "/farm/jobs", Recipes);
        Assert.Equal("a", spec.Name);
    }

    [Fact]
    public void A_dataset_yaml_that_is_not_yaml_says_what_the_file_should_look_like()
    {
        var binary = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor("PK\u0003\u0004zip", "dataset.yaml"));
        Assert.StartsWith("dataset.yaml line 1: not a text file: control character U+0003 at column 3", binary.Message, StringComparison.Ordinal);
        Assert.Contains("A dataset.yaml is a YAML mapping of `key: value` lines", binary.Message, StringComparison.Ordinal);

        var broken = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor("name: plates\nlicence: 'MIT\n", "dataset.yaml"));
        Assert.StartsWith("dataset.yaml line 2: not valid YAML:", broken.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_dataset_names_the_commands_that_make_one_there()
    {
        var missing = Path.Combine(Path.GetTempPath(), "rmtc-no-such-dataset-" + Guid.NewGuid().ToString("N"));
        var error = Assert.Throws<DatasetException>(() => Dataset.Open(missing, "classifier"));
        Assert.Contains($"dataset directory {missing} does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains($"`rmtc dataset synth --recipe classifier --out {missing}`", error.Message, StringComparison.Ordinal);
        Assert.Contains($"`rmtc dataset import images SOURCE_DIR --out {missing} --licence SPDX-ID`", error.Message, StringComparison.Ordinal);

        // Without a recipe (a dataset opened on its own), the synth command names the flag to fill in.
        error = Assert.Throws<DatasetException>(() => Dataset.Open(missing));
        Assert.Contains($"`rmtc dataset synth --recipe RECIPE --out {missing}`", error.Message, StringComparison.Ordinal);
    }
}
