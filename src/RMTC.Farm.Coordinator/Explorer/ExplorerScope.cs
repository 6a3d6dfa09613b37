using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Explorer;

/// <summary>
/// Which runs a caller of the Explorer may see. Every API answer passes through <see cref="MaySee"/>: when the gRPC API
/// gains tokens and show scoping, the Explorer's filter is this one interface, so the page never shows what the API
/// would refuse.
/// </summary>
public interface IExplorerScope
{
    /// <summary>True when the request's caller may see <paramref name="run"/> (and everything derived from it).</summary>
    bool MaySee(Microsoft.AspNetCore.Http.HttpContext context, RunManifest run);
}

/// <summary>
/// No scoping: every run is shown. The coordinator registers <see cref="ShowExplorerScope"/> (show scoping when wrangler
/// tokens are configured); this one remains for hosts that map the Explorer without the security registration.
/// </summary>
public sealed class OpenExplorerScope : IExplorerScope
{
    /// <inheritdoc/>
    public bool MaySee(Microsoft.AspNetCore.Http.HttpContext context, RunManifest run) => true;
}
