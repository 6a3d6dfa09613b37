using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Explorer;

/// <summary>
/// The Explorer's token check when wranglers are authenticated: the same wrangler tokens as the gRPC API, taken from
/// <c>Authorization: Bearer TOKEN</c>, a <c>?token=TOKEN</c> query (kept in an HttpOnly cookie for the page's own
/// requests), or that cookie. No valid token: 401.
/// </summary>
public static class ExplorerAuthentication
{
    /// <summary>The cookie the Explorer keeps the token in.</summary>
    public const string Cookie = "rmtc_token";

    private const string ItemKey = "rmtc.wrangler";

    /// <summary>An endpoint filter for the Explorer's group.</summary>
    public static async ValueTask<object?> Filter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var access = http.RequestServices.GetRequiredService<FarmAccess>();
        if (!access.WranglersAuthenticated)
        {
            return await next(context);
        }

        var fromQuery = http.Request.Query["token"].ToString();
        var header = http.Request.Headers.Authorization.ToString();
        var token = fromQuery.Length > 0 ? fromQuery
            : header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim()
            : http.Request.Cookies[Cookie] ?? "";
        if (token.Length == 0 || access.Wrangler(token) is not { } identity)
        {
            return Results.Text(
                "The Explorer needs a wrangler token of this farm: open /explorer/?token=TOKEN once (it is kept in a cookie), or send Authorization: Bearer TOKEN.\n",
                "text/plain", statusCode: StatusCodes.Status401Unauthorized);
        }

        http.Items[ItemKey] = identity;
        if (fromQuery.Length > 0)
        {
            http.Response.Cookies.Append(Cookie, token, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/explorer", Secure = http.Request.IsHttps });
        }

        return await next(context);
    }

    /// <summary>The wrangler of an Explorer request; null when wranglers are not authenticated.</summary>
    public static WranglerIdentity? Wrangler(HttpContext context) => context.Items.TryGetValue(ItemKey, out var value) ? value as WranglerIdentity : null;
}

/// <summary>
/// Show scoping for the Explorer: with wrangler tokens a caller sees the runs of their shows (an admin all), exactly as
/// the gRPC API lets them; without, everything (the Explorer then answers only where /metrics does).
/// </summary>
public sealed class ShowExplorerScope(FarmAccess access) : IExplorerScope
{
    /// <inheritdoc/>
    public bool MaySeeShow(HttpContext context, string? show) =>
        !access.WranglersAuthenticated || (ExplorerAuthentication.Wrangler(context) is { } w && w.MayAccess(show));
}
