using RMTC.Farm.Core.Jobs;

namespace RMTC.Farm.Core.Tests;

/// <summary>The job spec's <c>show</c> field (show scoping when the coordinator authenticates wranglers).</summary>
public sealed class JobSpecShowTests
{
    private const string Base = "name: n\nrecipe: classifier\ndataset: d\n";

    [Fact]
    public void Show_is_read_and_absent_means_null()
    {
        Assert.Equal("bigshow", JobSpecParser.Parse(Base + "show: bigshow\n", "job.yaml", "/").Show);
        var none = JobSpecParser.Parse(Base, "job.yaml", "/");
        Assert.Null(none.Show);
        Assert.Null(none.EffectiveShow);
        Assert.DoesNotContain("show", System.Text.Json.JsonSerializer.Serialize(none, RMTC.Farm.Core.Lineage.RunManifest.JsonOptions));
    }

    [Fact]
    public void A_show_with_odd_characters_is_refused_naming_the_line()
    {
        var error = Assert.Throws<JobSpecException>(() => JobSpecParser.Parse(Base + "show: ../etc\n", "job.yaml", "/"));
        Assert.Contains("job.yaml:4: show: `show` must be 1-100 letters", error.Message);
    }
}
