using RMTC.Farm.Core.Jobs;

namespace RMTC.Farm.Core.Tests;

/// <summary>The job spec's <c>round_policy</c>: how rounds close and when stragglers are speculated.</summary>
public sealed class RoundPolicySpecTests
{
    private static JobSpec Parse(string policy) =>
        JobSpecParser.Parse($"name: a\nrecipe: classifier\ndataset: /d\nshards: 4\nround_policy:\n{policy}\n", "job.yaml", "/farm/jobs", ["classifier"]);

    [Fact]
    public void A_spec_without_a_policy_waits_for_every_shard_and_never_speculates()
    {
        var spec = JobSpecParser.Parse("name: a\nrecipe: classifier\ndataset: /d\n", "job.yaml", "/farm/jobs");
        Assert.Null(spec.RoundPolicy);
    }

    [Fact]
    public void Quorum_deadline_and_straggler_threshold_are_read_with_their_units()
    {
        var policy = Parse("  close: quorum\n  quorum: 3\n  deadline: 30m\n  straggler_after: 90s").RoundPolicy!;
        Assert.Equal(RoundClosePolicies.Quorum, policy.Close);
        Assert.Equal(3, policy.Quorum);
        Assert.Equal(TimeSpan.FromMinutes(30), policy.Deadline);
        Assert.Equal(TimeSpan.FromSeconds(90), policy.StragglerAfter);
    }

    [Theory]
    [InlineData("  close: quorum\n  quorum: 3", "needs both `quorum`")]
    [InlineData("  close: quorum\n  deadline: 1h", "needs both `quorum`")]
    [InlineData("  close: quorum\n  quorum: 5\n  deadline: 1h", "between 1 and 4")]
    [InlineData("  close: quorum\n  quorum: 0\n  deadline: 1h", "between 1 and 4")]
    [InlineData("  close: majority", "unknown close policy 'majority'")]
    [InlineData("  quorum: 2", "only apply with `close: quorum`")]
    [InlineData("  straggler_after: soon", "positive duration such as 90s")]
    [InlineData("  straggler_after: 0s", "positive duration such as 90s")]
    [InlineData("  close: quorum\n  quorum: 2\n  deadline: -5m", "positive duration")]
    [InlineData("  speculate: true", "unknown field 'speculate'")]
    public void A_wrong_policy_names_the_field_and_the_fix(string policy, string expected)
    {
        var error = Assert.Throws<JobSpecException>(() => Parse(policy));
        Assert.Contains(error.Problems, p => p.Contains("round_policy.", StringComparison.Ordinal) && p.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("1.5s", 1500)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("00:00:05", 5000)]
    public void Durations_read_as_wranglers_write_them(string text, double ms)
    {
        Assert.True(DurationText.TryParse(text, out var duration));
        Assert.Equal(ms, duration.TotalMilliseconds);
        Assert.True(DurationText.TryParse(DurationText.Format(duration), out var again));
        Assert.Equal(duration, again);
    }
}
