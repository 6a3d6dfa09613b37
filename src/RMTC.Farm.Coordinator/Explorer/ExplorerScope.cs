using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Explorer;

/// <summary>
/// Which runs a caller of the Explorer may see. Every API answer passes through <see cref="MaySeeShow"/>: when the gRPC API
/// gains tokens and show scoping, the Explorer's filter is this one interface, so the page never shows what the API
/// would refuse.
/// </summary>
public interface IExplorerScope
{
    /// <summary>True when the request's caller may see the runs of <paramref name="show"/> (and everything derived from them); null: a run without a show.</summary>
    bool MaySeeShow(Microsoft.AspNetCore.Http.HttpContext context, string? show);
}

/// <summary>The scope asked about a run, whichever form of it the caller holds.</summary>
public static class ExplorerScopeExtensions
{
    /// <summary>True when the request's caller may see <paramref name="run"/> (and everything derived from it).</summary>
    public static bool MaySee(this IExplorerScope scope, Microsoft.AspNetCore.Http.HttpContext context, RunManifest run) =>
        scope.MaySeeShow(context, run.Spec?.EffectiveShow);

    /// <summary>True when the request's caller may see the run <paramref name="run"/> summarises.</summary>
    public static bool MaySee(this IExplorerScope scope, Microsoft.AspNetCore.Http.HttpContext context, Runs.RunSummary run) =>
        scope.MaySeeShow(context, run.Show);
}

/// <summary>
/// No scoping: every run is shown. The coordinator registers <see cref="ShowExplorerScope"/> (show scoping when wrangler
/// tokens are configured); this one remains for hosts that map the Explorer without the security registration.
/// </summary>
public sealed class OpenExplorerScope : IExplorerScope
{
    /// <inheritdoc/>
    public bool MaySeeShow(Microsoft.AspNetCore.Http.HttpContext context, string? show) => true;
}
