namespace RMTC.Farm.Coordinator.Security;

/// <summary>Roles a wrangler token can carry.</summary>
public static class WranglerRoles
{
    /// <summary>Sees, submits to and cancels the jobs of its shows only.</summary>
    public const string Wrangler = "wrangler";

    /// <summary>Sees and cancels every job, submits to any show (or none), runs farm-wide lineage queries.</summary>
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Wrangler, Admin];
}

/// <summary>Who a wrangler token stands for.</summary>
/// <param name="User">Recorded as the run's <c>submitted_by</c>.</param>
/// <param name="Shows">Shows whose jobs the wrangler may submit, see and cancel.</param>
/// <param name="Role"><see cref="WranglerRoles.Wrangler"/> or <see cref="WranglerRoles.Admin"/>.</param>
public sealed record WranglerIdentity(string User, IReadOnlySet<string> Shows, string Role)
{
    /// <summary>True for an admin.</summary>
    public bool IsAdmin => Role == WranglerRoles.Admin;

    /// <summary>True when the wrangler may see and act on a job of <paramref name="show"/> (null: a job with no show: admins only).</summary>
    public bool MayAccess(string? show) => IsAdmin || (show is not null && Shows.Contains(show));

    /// <summary>The shows, for error messages.</summary>
    public string ShowList => Shows.Count == 0 ? "no show" : string.Join(", ", Shows.Order(StringComparer.Ordinal));
}
