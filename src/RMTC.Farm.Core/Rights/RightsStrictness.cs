using RMTC.Farm.Core.Datasets;

namespace RMTC.Farm.Core.Rights;

/// <summary>Orders assertion values from least to most restrictive, for combining the rights of several sources.</summary>
/// <remarks>
/// allowed &lt; constrained &lt; unspecified &lt; notAllowed. A source that says nothing is not a permission (training
/// needs an explicit yes), so "unspecified" outranks constrained; but it is not an explicit refusal either, so an owner's
/// notAllowed stays visible above it.
/// </remarks>
public static class RightsStrictness
{
    /// <summary>No source declared the assertion.</summary>
    public const string Unspecified = "unspecified";

    /// <summary>Rank of <paramref name="use"/>: 0 allowed, 1 constrained, 2 unspecified, 3 notAllowed.</summary>
    /// <remarks>An unknown spelling ranks as notAllowed: a value nobody understands must never loosen a closure.</remarks>
    public static int Rank(string use) => use switch
    {
        DatasetRights.Allowed => 0,
        DatasetRights.Constrained => 1,
        Unspecified => 2,
        _ => 3,
    };

    /// <summary>The more restrictive of two values (the first on a tie).</summary>
    public static string MostRestrictive(string a, string b) => Rank(b) > Rank(a) ? b : a;
}
