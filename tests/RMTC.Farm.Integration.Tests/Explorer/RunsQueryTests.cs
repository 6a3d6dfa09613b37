using RMTC.Farm.Coordinator.Explorer;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>The runs list's filters, order and paging, without a server.</summary>
public sealed class RunsQueryTests
{
    private static RunSummary Run(string name, string recipe, string show, int day, string state = RunStates.Succeeded) => RunSummary.Of(new RunManifest
    {
        RunId = name + "-000000",
        Name = name,
        Recipe = recipe,
        State = state,
        SubmittedBy = "ana",
        SubmittedAt = new DateTimeOffset(2026, 12, day, 12, 0, 0, TimeSpan.Zero),
        Spec = new JobSpec { Name = name, Recipe = recipe, Dataset = "/data", Show = show },
        Dataset = new DatasetRecord { Name = "plates", Digest = new string('a', 64) },
    });

    private static readonly RunSummary[] Runs =
    [
        Run("beauty", "denoiser", "lighthouse", 1),
        Run("albedo", "hdr-denoiser", "lighthouse", 3),
        Run("crowd", "classifier", "ferry", 5, RunStates.Failed),
    ];

    private static RunsQuery Query(string? show = null, string? recipe = null, string? from = null, string? to = null, string? sort = null, string? order = null, string? page = null, string? size = null)
    {
        var (query, error) = RunsQuery.Parse(null, null, null, show, null, recipe, from, to, sort, order, page, size);
        Assert.True(query is not null, error);
        return query!;
    }

    private static string[] Names(RunsQuery q) => q.Order(Runs.Where(q.Matches)).Select(m => m.Name).ToArray();

    [Fact]
    public void Filters_by_show_recipe_and_submission_dates_and_orders_by_any_column()
    {
        Assert.Equal(["crowd", "albedo", "beauty"], Names(Query()));
        Assert.Equal(["albedo", "beauty"], Names(Query(show: "LIGHTHOUSE")));
        Assert.Equal(["albedo"], Names(Query(recipe: "hdr-denoiser")));
        // A date alone is that whole day: to=12-03 includes the run submitted at noon on the 3rd.
        Assert.Equal(["albedo", "beauty"], Names(Query(to: "2026-12-03")));
        Assert.Equal(["crowd", "albedo"], Names(Query(from: "2026-12-02")));
        Assert.Equal(["albedo", "beauty", "crowd"], Names(Query(sort: "name")));
        Assert.Equal(["crowd", "beauty", "albedo"], Names(Query(sort: "name", order: "desc")));
        Assert.Equal(["beauty", "albedo", "crowd"], Names(Query(order: "asc")));
        Assert.Equal(["crowd"], Names(Query(sort: "state", order: "asc")).Take(1));
    }

    [Theory]
    [InlineData("from", "yesterday", "from: 'yesterday' is not a date: use YYYY-MM-DD")]
    [InlineData("sort", "colour", "sort: 'colour' is not a column to sort by")]
    [InlineData("order", "up", "order: 'up' must be asc or desc")]
    [InlineData("page", "0", "page: '0' must be a whole number from 1")]
    [InlineData("size", "100000", "size: '100000' must be a whole number from 1 to 500")]
    public void A_bad_parameter_is_refused_naming_it_and_what_it_accepts(string name, string value, string message)
    {
        string? Get(string key) => key == name ? value : null;
        var (query, error) = RunsQuery.Parse(null, null, null, null, null, null, Get("from"), Get("to"), Get("sort"), Get("order"), Get("page"), Get("size"));
        Assert.Null(query);
        Assert.StartsWith(message, error);
    }
}
