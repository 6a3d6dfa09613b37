using RMTC.Farm.Core.Jobs;

namespace RMTC.Farm.Core.Tests;

public sealed class JobSpecParserTests
{
    private static readonly string[] Recipes = ["denoiser", "classifier"];

    private static JobSpec Parse(string yaml) => JobSpecParser.Parse(yaml, "job.yaml", "/farm/jobs", Recipes);

    [Fact]
    public void A_full_spec_reads_every_field_and_resolves_the_dataset_against_the_spec_directory()
    {
        var spec = Parse("""
            name: denoise-010
            recipe: denoiser
            dataset: ../datasets/patches
            shards: 8
            rounds: 5
            seed: 99
            max_retries: 1
            local: { epochs: 2, batch_size: 64, learning_rate: 0.005 }
            merge: { strategy: nesterov, outer_learning_rate: 0.5, momentum: 0.8 }
            resources: { gpus: 1, gpu_memory: 8g, memory: 512m, cores: 2.5, tags: "gpu | lighting" }
            """);
        Assert.Equal("denoise-010", spec.Name);
        Assert.Equal("/farm/datasets/patches", spec.Dataset);
        Assert.Equal((8, 5, 99L, 1), (spec.Shards, spec.Rounds, spec.Seed, spec.MaxRetries));
        Assert.Equal((2, 64, 0.005), (spec.Local.Epochs, spec.Local.BatchSize, spec.Local.LearningRate));
        Assert.Equal((MergeStrategies.Nesterov, 0.5, 0.8), (spec.Merge.Strategy, spec.Merge.OuterLearningRate, spec.Merge.Momentum));
        Assert.Equal((1, 8192L, 512L, 2.5), (spec.Resources.Gpus, spec.Resources.GpuMemoryMiB, spec.Resources.MemoryMiB, spec.Resources.Cores));
        Assert.Equal(["gpu", "lighting"], spec.Resources.Tags);
    }

    [Fact]
    public void Defaults_fill_what_the_spec_leaves_out()
    {
        var spec = Parse("name: a\nrecipe: classifier\ndataset: /data/x\n");
        Assert.Equal((3, 2, MergeStrategies.FedAvg), (spec.Shards, spec.Rounds, spec.Merge.Strategy));
        Assert.Empty(spec.Resources.Tags);
    }

    [Theory]
    [InlineData("shards: three", "job.yaml:4: shards: `shards` must be a whole number (got 'three')")]
    [InlineData("shards: 0", "`shards` must be between 1 and")]
    [InlineData("rounds: -1", "`rounds` must be between 1 and")]
    [InlineData("shardz: 4", "unknown field 'shardz': check its spelling")]
    [InlineData("merge: { strategy: median }", "unknown merge strategy 'median': use fedavg or nesterov")]
    [InlineData("merge: { momentum: 1.0 }", "`momentum` must be at least 0 and below 1")]
    [InlineData("local: { learning_rate: 0 }", "`learning_rate` must be above 0")]
    [InlineData("resources: { memory: lots }", "`memory` must be a size such as 512m, 8g")]
    [InlineData("local: 3", "`local` must be a mapping")]
    [InlineData("rights: { accept: [x] }", "job.yaml:4: rights.accept: unknown field 'accept': check its spelling (known: accept_constraints)")]
    [InlineData("rights: { accept_constraints: internal only }", "rights.accept_constraints: `accept_constraints` must be a list of non-empty texts")]
    [InlineData("rights: { accept_constraints: [ok, \"\"] }", "`accept_constraints` must be a list of non-empty texts")]
    [InlineData("rights: yes", "`rights` must be a mapping")]
    public void Each_mistake_names_the_field_and_the_fix(string line, string expected)
    {
        var error = Assert.Throws<JobSpecException>(() => Parse($"name: a\nrecipe: classifier\ndataset: /d\n{line}\n"));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void The_rights_section_lists_the_constraints_the_job_accepts_verbatim()
    {
        var spec = Parse("""
            name: a
            recipe: denoiser
            dataset: /d
            rights:
              accept_constraints:
                - "internal R&D only"
                - "no likeness | no voice"
            """);
        Assert.Equal(["internal R&D only", "no likeness | no voice"], spec.Rights!.AcceptConstraints);
        Assert.Null(Parse("name: a\nrecipe: denoiser\ndataset: /d\n").Rights);
        Assert.Empty(Parse("name: a\nrecipe: denoiser\ndataset: /d\nrights: {}\n").Rights!.AcceptConstraints);
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var error = Assert.Throws<JobSpecException>(() => Parse("recipe: painter\nshards: x\n"));
        Assert.Contains(error.Problems, p => p.Contains("name is required"));
        Assert.Contains(error.Problems, p => p.Contains("dataset is required"));
        Assert.Contains(error.Problems, p => p.Contains("unknown recipe 'painter': use one of denoiser, classifier"));
        Assert.Contains(error.Problems, p => p.Contains("whole number"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("- just\n- a list\n")]
    [InlineData("name: [unclosed\n")]
    public void Text_that_is_not_a_spec_is_refused_clearly(string yaml)
    {
        var error = Assert.Throws<JobSpecException>(() => Parse(yaml));
        Assert.StartsWith("job.yaml", error.Message);
    }

    [Theory]
    [InlineData("512m", 512)]
    [InlineData("8g", 8192)]
    [InlineData("8GiB", 8192)]
    [InlineData("1.5G", 1536)]
    [InlineData("2048", 2048)]
    public void Sizes_read_as_wranglers_write_them(string text, long mib)
    {
        Assert.True(ByteSize.TryParseMiB(text, out var value));
        Assert.Equal(mib, value);
    }
}
