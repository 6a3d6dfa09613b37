using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.Leadership;

namespace RMTC.Farm.Coordinator.Explorer;

/// <summary>
/// The Explorer of a coordinator that does not lead: a standby holds no runs in memory, so rather than show an empty
/// farm it answers 503 with the same words as its gRPC refusal (who leads, what to do). A page asks the browser to
/// reload every few seconds, so a standby's Explorer left open comes to life when it takes over.
/// </summary>
public static class ExplorerStandbyGate
{
    /// <summary>How often a standby's page reloads itself.</summary>
    private const int RetrySeconds = 5;

    /// <summary>An endpoint filter for the Explorer's group.</summary>
    public static async ValueTask<object?> Filter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var leadership = http.RequestServices.GetRequiredService<CoordinatorLeadership>();
        if (leadership.Serving)
        {
            return await next(context);
        }

        var (text, leader) = leadership.NotServing();
        var message = text + (leader is null ? "" : $". The leader's Explorer is on its metrics port (/explorer/ where its /metrics is).");
        http.Response.Headers.RetryAfter = RetrySeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (http.Request.Path.StartsWithSegments("/explorer/api", StringComparison.Ordinal))
        {
            return ExplorerApi.Problem(StatusCodes.Status503ServiceUnavailable, message);
        }

        var page = $"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{RetrySeconds}">
            <title>RMTC.Farm Explorer: standby coordinator</title></head>
            <body><h1>This coordinator is not leading</h1><p>{WebUtility.HtmlEncode(message)}</p>
            <p>This page reloads every {RetrySeconds} s, and shows the farm once this coordinator leads.</p></body></html>
            """;
        return Results.Text(page, "text/html; charset=utf-8", statusCode: StatusCodes.Status503ServiceUnavailable);
    }
}
