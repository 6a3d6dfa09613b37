using System.Globalization;
using RMTC.Farm.Coordinator.Runs;

namespace RMTC.Farm.Coordinator.Explorer;

/// <summary>
/// The runs list's question: filters (text, submitter, state, show, dataset, recipe, submission dates), an order and a
/// page. Parsed from the query string with every bad value named, so a hand-written URL gets a clear answer.
/// </summary>
internal sealed record RunsQuery(
    string? Text,
    string? User,
    string? State,
    string? Show,
    string? Dataset,
    string? Recipe,
    DateTimeOffset? From,
    DateTimeOffset? Before,
    string Sort,
    bool Descending,
    int Page,
    int Size)
{
    /// <summary>Rows per page when the request names none.</summary>
    public const int DefaultSize = 50;

    /// <summary>The most rows one page may ask for.</summary>
    public const int MaxSize = 500;

    private static readonly string[] Sorts = ["submitted", "finished", "name", "state", "dataset", "recipe"];

    /// <summary>Reads the query; the error says which parameter is wrong and what it accepts.</summary>
    public static (RunsQuery? Query, string? Error) Parse(
        string? q, string? user, string? state, string? show, string? dataset, string? recipe, string? from, string? to, string? sort, string? order, string? page, string? size)
    {
        if (!TryDate(from, endOfDay: false, out var start))
        {
            return (null, $"from: '{from}' is not a date: use YYYY-MM-DD (or an ISO 8601 time with its zone)");
        }

        if (!TryDate(to, endOfDay: true, out var end))
        {
            return (null, $"to: '{to}' is not a date: use YYYY-MM-DD (or an ISO 8601 time with its zone)");
        }

        var by = string.IsNullOrEmpty(sort) ? "submitted" : sort.ToLowerInvariant();
        if (!Sorts.Contains(by))
        {
            return (null, $"sort: '{sort}' is not a column to sort by: use one of {string.Join(", ", Sorts)}");
        }

        if (order is { Length: > 0 } && order is not ("asc" or "desc"))
        {
            return (null, $"order: '{order}' must be asc or desc");
        }

        if (!TryPositive(page, 1, int.MaxValue, out var p))
        {
            return (null, $"page: '{page}' must be a whole number from 1");
        }

        if (!TryPositive(size, DefaultSize, MaxSize, out var n))
        {
            return (null, $"size: '{size}' must be a whole number from 1 to {MaxSize}");
        }

        // Dates and names read best newest or A first: the default order follows the column.
        var descending = order is { Length: > 0 } ? order == "desc" : by is "submitted" or "finished";
        return (new RunsQuery(Blank(q), Blank(user), Blank(state), Blank(show), Blank(dataset), Blank(recipe), start, end, by, descending, p, n), null);
    }

    /// <summary>True when <paramref name="m"/> passes every filter.</summary>
    public bool Matches(RunSummary m) =>
        (Text is null || m.Name.Contains(Text, StringComparison.OrdinalIgnoreCase) || m.RunId.StartsWith(Text, StringComparison.Ordinal))
        && (User is null || m.SubmittedBy.Equals(User, StringComparison.OrdinalIgnoreCase))
        && (State is null || m.State.Equals(State, StringComparison.OrdinalIgnoreCase))
        && (Show is null || string.Equals(m.Show, Show, StringComparison.OrdinalIgnoreCase))
        && (Dataset is null || m.Dataset.Name.Contains(Dataset, StringComparison.OrdinalIgnoreCase) || m.Dataset.Digest == Dataset)
        && (Recipe is null || m.Recipe.Equals(Recipe, StringComparison.OrdinalIgnoreCase))
        && (From is null || m.SubmittedAt >= From)
        && (Before is null || m.SubmittedAt < Before);

    /// <summary>The runs in the asked order; ties keep the newest first.</summary>
    public IEnumerable<RunSummary> Order(IEnumerable<RunSummary> runs)
    {
        var newestFirst = runs.OrderByDescending(m => m.SubmittedAt);
        return Sort switch
        {
            "finished" => Descending ? newestFirst.OrderByDescending(m => m.FinishedAt ?? DateTimeOffset.MaxValue) : newestFirst.OrderBy(m => m.FinishedAt ?? DateTimeOffset.MaxValue),
            "name" => By(newestFirst, m => m.Name),
            "state" => By(newestFirst, m => m.State),
            "dataset" => By(newestFirst, m => m.Dataset.Name),
            "recipe" => By(newestFirst, m => m.Recipe),
            _ => Descending ? newestFirst : runs.OrderBy(m => m.SubmittedAt),
        };
    }

    private IEnumerable<RunSummary> By(IOrderedEnumerable<RunSummary> runs, Func<RunSummary, string> key) =>
        Descending ? runs.OrderByDescending(key, StringComparer.OrdinalIgnoreCase) : runs.OrderBy(key, StringComparer.OrdinalIgnoreCase);

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    /// <summary>A date alone means that whole day (UTC): from its start, or up to its end.</summary>
    private static bool TryDate(string? text, bool endOfDay, out DateTimeOffset? value)
    {
        value = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            value = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).AddDays(endOfDay ? 1 : 0);
            return true;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time))
        {
            value = time;
            return true;
        }

        return false;
    }

    private static bool TryPositive(string? text, int fallback, int max, out int value)
    {
        value = fallback;
        return string.IsNullOrWhiteSpace(text) || (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= 1 && value <= max);
    }
}
