using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Planning;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Core.Tests;

/// <summary>An epoch spread over several rounds (<c>local.rounds_per_epoch</c>): the parts each round trains on, the learning rates, the spec key.</summary>
public sealed class RoundsPerEpochTests
{
    private static readonly string[] Recipes = ["denoiser", "classifier"];

    private static JobSpec Parse(string yaml) => JobSpecParser.Parse(yaml, "job.yaml", "/farm/jobs", Recipes, target: JobSpecTarget.Farm);

    [Theory]
    [InlineData(1500, 2)]
    [InlineData(7, 3)]
    [InlineData(10, 4)]
    public void The_rounds_of_an_epoch_train_every_sample_of_the_shard_exactly_once(int samples, int perEpoch)
    {
        var plan = Enumerable.Range(1000, samples).ToArray();
        for (var epoch = 0; epoch < 3; epoch++)
        {
            var parts = Enumerable.Range((epoch * perEpoch) + 1, perEpoch).Select(round => RoundSlices.For(plan, 42, shard: 1, round, perEpoch)).ToList();
            Assert.Equal(plan, parts.SelectMany(p => p).Order());
            Assert.True(parts.Max(p => p.Length) - parts.Min(p => p.Length) <= 1, "the parts are not equal");
            Assert.Equal(parts.Select(p => p.Length), Enumerable.Range((epoch * perEpoch) + 1, perEpoch).Select(r => RoundSlices.Length(samples, r, perEpoch)));
        }
    }

    [Fact]
    public void Each_epoch_cuts_the_shard_differently_and_the_same_run_cuts_it_the_same_way()
    {
        var plan = Enumerable.Range(0, 200).ToArray();
        Assert.Equal(RoundSlices.For(plan, 7, 0, 1, 2), RoundSlices.For(plan, 7, 0, 1, 2));
        Assert.NotEqual(RoundSlices.For(plan, 7, 0, 1, 2).Order(), RoundSlices.For(plan, 7, 0, 3, 2).Order());
        Assert.NotEqual(RoundSlices.For(plan, 7, 0, 1, 2).Order(), RoundSlices.For(plan, 7, 1, 1, 2).Order());
        Assert.NotEqual(RoundSlices.For(plan, 7, 0, 1, 2).Order(), RoundSlices.For(plan, 8, 0, 1, 2).Order());
    }

    [Fact]
    public void One_round_per_epoch_trains_the_whole_shard_as_before()
    {
        var plan = new[] { 5, 3, 9 };
        Assert.Same(plan, RoundSlices.For(plan, 1, 0, 4, 1));
        Assert.Equal(3, RoundSlices.Length(3, 4, 1));
        Assert.Equal(4, RoundSlices.EpochOf(4, 1));
        Assert.Equal([1, 1, 2, 2, 3], Enumerable.Range(1, 5).Select(r => RoundSlices.EpochOf(r, 2)));
    }

    [Fact]
    public void The_learning_rate_steps_per_epoch_so_the_farm_follows_the_local_run_of_the_same_epochs()
    {
        var spread = Parse("name: a\nrecipe: classifier\ndataset: /d\nrounds: 8\nlocal: { learning_rate: 0.05, learning_rate_schedule: cosine, final_learning_rate: 0.0005, rounds_per_epoch: 2 }\n");
        var whole = Parse("name: a\nrecipe: classifier\ndataset: /d\nrounds: 4\nlocal: { learning_rate: 0.05, learning_rate_schedule: cosine, final_learning_rate: 0.0005 }\n");
        Assert.Equal(2, spread.Local.RoundsPerEpoch);
        for (var round = 1; round <= 8; round++)
        {
            Assert.Equal(LearningRateSchedule.ForRound(whole.Local, (round + 1) / 2, 4), LearningRateSchedule.ForRound(spread.Local, round, 8), 12);
        }
    }

    [Fact]
    public void A_spec_without_the_key_serialises_as_before()
    {
        var spec = Parse("name: a\nrecipe: classifier\ndataset: /d\nrounds: 3\n");
        Assert.Null(spec.Local.RoundsPerEpoch);
        Assert.Equal(1, spec.Local.EffectiveRoundsPerEpoch);
        var json = System.Text.Json.JsonSerializer.Serialize(spec.Local, RMTC.Farm.Core.Lineage.RunManifest.JsonOptions);
        Assert.DoesNotContain("roundsPerEpoch", json, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("rounds: 5\nlocal: { rounds_per_epoch: 2 }", "local.rounds_per_epoch: `rounds: 5` must be whole epochs with `rounds_per_epoch: 2`: use a multiple of 2 rounds, e.g. 6")]
    [InlineData("rounds: 4\nlocal: { epochs: 3, rounds_per_epoch: 2 }", "local.epochs: `rounds_per_epoch: 2` spreads one epoch over 2 rounds, so a round trains part of an epoch: set `epochs: 1` (got 3) or remove `rounds_per_epoch`")]
    [InlineData("rounds: 4\nlocal: { rounds_per_epoch: 0 }", "`rounds_per_epoch` must be")]
    [InlineData("rounds: 4\nlocal: { rounds_per_epoch: half }", "rounds_per_epoch")]
    public void Wrong_settings_are_refused_naming_the_fix(string lines, string expected)
    {
        var problems = Assert.Throws<JobSpecException>(() => Parse($"name: a\nrecipe: classifier\ndataset: /d\n{lines}\n")).Problems;
        Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
    }
}
