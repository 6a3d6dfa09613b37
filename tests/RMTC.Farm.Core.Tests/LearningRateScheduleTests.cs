using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Core.Tests;

/// <summary>The learning rate of each round (<c>local.learning_rate_schedule</c>) and the spec keys for it and for <c>local.augment</c>.</summary>
public sealed class LearningRateScheduleTests
{
    private static readonly string[] Recipes = ["denoiser", "classifier", "hdr-denoiser"];

    private static JobSpec Parse(string yaml) => JobSpecParser.Parse(yaml, "job.yaml", "/farm/jobs", Recipes, target: JobSpecTarget.Farm);

    private static IReadOnlyList<string> Problems(string yaml) => Assert.Throws<JobSpecException>(() => Parse(yaml)).Problems;

    [Theory]
    [InlineData(1, 0.001)]
    [InlineData(2, 0.000953)]
    [InlineData(3, 0.000821)]
    [InlineData(5, 0.000419)]
    [InlineData(8, 0.00005)]
    public void Cosine_falls_from_the_learning_rate_in_round_one_to_the_final_rate_in_the_last(int round, double expected)
    {
        // final + (initial - final) * (1 + cos(pi * (round - 1) / 7)) / 2 with initial 0.001, final 0.00005, 8 rounds.
        Assert.Equal(expected, LearningRateSchedule.At(LearningRateSchedules.Cosine, 0.001, 0.00005, round, 8), 6);
    }

    [Fact]
    public void Cosine_is_monotone_and_symmetric_about_its_midpoint()
    {
        var rates = Enumerable.Range(1, 9).Select(r => LearningRateSchedule.At(LearningRateSchedules.Cosine, 1.0, 0.0, r, 9)).ToArray();
        Assert.Equal(1.0, rates[0], 12);
        Assert.Equal(0.5, rates[4], 12);
        Assert.Equal(0.0, rates[8], 12);
        for (var i = 1; i < rates.Length; i++)
        {
            Assert.True(rates[i] < rates[i - 1], $"round {i + 1} ({rates[i]}) is not below round {i} ({rates[i - 1]})");
            Assert.Equal(1.0, rates[i] + rates[8 - i], 12);
        }
    }

    [Fact]
    public void Constant_and_one_round_runs_keep_the_learning_rate()
    {
        Assert.Equal(0.01, LearningRateSchedule.At(LearningRateSchedules.Constant, 0.01, 0.0001, 5, 8));
        Assert.Equal(0.01, LearningRateSchedule.At(LearningRateSchedules.Cosine, 0.01, 0.0001, 1, 1));
    }

    [Fact]
    public void Rounds_outside_the_run_and_unknown_schedules_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.At(LearningRateSchedules.Cosine, 0.01, 0.001, 0, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.At(LearningRateSchedules.Cosine, 0.01, 0.001, 9, 8));
        var e = Assert.Throws<ArgumentException>(() => LearningRateSchedule.At("step", 0.01, 0.001, 1, 8));
        Assert.Contains("use constant or cosine", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_spec_reads_the_schedule_with_its_final_rate_defaulting_to_a_twentieth()
    {
        var spec = Parse("name: a\nrecipe: hdr-denoiser\ndataset: /d\nrounds: 4\nlocal: { learning_rate: 0.002, learning_rate_schedule: cosine, augment: flip-rotate }\n");
        Assert.Equal("cosine", spec.Local.LearningRateSchedule);
        Assert.Null(spec.Local.FinalLearningRate);
        Assert.Equal(0.0001, spec.Local.EffectiveFinalLearningRate, 12);
        Assert.Equal(0.002, LearningRateSchedule.ForRound(spec.Local, 1, spec.Rounds), 12);
        Assert.Equal(0.0001, LearningRateSchedule.ForRound(spec.Local, 4, spec.Rounds), 12);
        Assert.True(spec.Local.FlipRotate);

        spec = Parse("name: a\nrecipe: hdr-denoiser\ndataset: /d\nrounds: 4\nlocal: { learning_rate: 0.002, learning_rate_schedule: cosine, final_learning_rate: 0.0005 }\n");
        Assert.Equal(0.0005, LearningRateSchedule.ForRound(spec.Local, 4, spec.Rounds), 12);
        Assert.False(spec.Local.FlipRotate);
    }

    [Fact]
    public void A_spec_without_the_keys_keeps_the_constant_rate_and_no_augmentation()
    {
        var spec = Parse("name: a\nrecipe: denoiser\ndataset: /d\nrounds: 3\nlocal: { learning_rate: 0.02 }\n");
        Assert.Null(spec.Local.LearningRateSchedule);
        Assert.Null(spec.Local.Augment);
        Assert.All(Enumerable.Range(1, 3), r => Assert.Equal(0.02, LearningRateSchedule.ForRound(spec.Local, r, 3)));
        // Older manifests serialise the same: the new keys are absent, not null or defaults.
        var json = System.Text.Json.JsonSerializer.Serialize(spec.Local, RMTC.Farm.Core.Lineage.RunManifest.JsonOptions);
        Assert.DoesNotContain("schedule", json, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("augment", json, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("local: { learning_rate_schedule: step }", "local.learning_rate_schedule: unknown schedule 'step': use constant or cosine")]
    [InlineData("local: { final_learning_rate: 0.001 }", "local.final_learning_rate: `final_learning_rate` is where a decaying schedule ends: add `learning_rate_schedule: cosine` or remove it")]
    [InlineData("local: { learning_rate: 0.001, learning_rate_schedule: cosine, final_learning_rate: 0.01 }", "local.final_learning_rate: `final_learning_rate` (0.01) is above `learning_rate` (0.001): the schedule only decays; lower it")]
    [InlineData("local: { learning_rate_schedule: cosine, final_learning_rate: 0 }", "`final_learning_rate` must be above 0")]
    [InlineData("local: { augment: mirror }", "local.augment: unknown augmentation 'mirror': use none or flip-rotate")]
    public void Wrong_schedule_and_augmentation_settings_are_refused_naming_the_field(string line, string expected)
    {
        Assert.Contains(Problems($"name: a\nrecipe: denoiser\ndataset: /d\n{line}\n"), p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void The_example_render_job_parses_with_its_schedule_and_augmentation()
    {
        var jobs = Path.Combine(RepoRoot(), "farm", "jobs");
        var spec = JobSpecParser.Parse(File.ReadAllText(Path.Combine(jobs, "hdr-denoiser.yaml")), "hdr-denoiser.yaml", jobs, Recipes, target: JobSpecTarget.Farm);
        Assert.Equal(("hdr-denoiser", "cosine", 0.00005, true), (spec.Recipe, spec.Local.LearningRateSchedule, spec.Local.EffectiveFinalLearningRate, spec.Local.FlipRotate));
        Assert.Equal(0.00005, LearningRateSchedule.ForRound(spec.Local, spec.Rounds, spec.Rounds), 12);
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RMTC.Farm.sln")))
        {
            dir = dir.Parent;
        }

        return dir!.FullName;
    }

    [Fact]
    public void Flip_rotate_is_refused_for_a_recipe_that_trains_on_labels()
    {
        Assert.Contains(Problems("name: a\nrecipe: classifier\ndataset: /d\nlocal: { augment: flip-rotate }\n"),
            p => p.Contains("local.augment: flip-rotate turns the input and target images of a pair together, but classifier trains on labelled-images", StringComparison.Ordinal));
    }
}
