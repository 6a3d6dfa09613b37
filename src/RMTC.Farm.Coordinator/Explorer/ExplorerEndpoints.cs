using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Coordinator.Explorer;

/// <summary>
/// Maps the Explorer (pages under <c>/explorer/</c>, JSON under <c>/explorer/api/</c>) on the metrics port only:
/// it answers exactly where <c>/metrics</c> already does and nowhere else, and asks for a wrangler token when the
/// coordinator has them (<see cref="ExplorerAuthentication"/>).
/// </summary>
public static class ExplorerEndpoints
{
    private const string ResourcePrefix = "Explorer/";
    private static readonly Assembly Assembly = typeof(ExplorerEndpoints).Assembly;

    /// <summary>How often the farm view's event stream sends a fresh snapshot (heartbeats come about as often).</summary>
    private static readonly TimeSpan FarmUpdateInterval = TimeSpan.FromSeconds(1);

    /// <summary>Maps the Explorer's pages, assets, JSON API and farm event stream.</summary>
    public static IEndpointRouteBuilder MapExplorer(this IEndpointRouteBuilder endpoints)
    {
        var listeners = endpoints.ServiceProvider.GetRequiredService<CoordinatorEndpoints>();
        var group = endpoints.MapGroup("/explorer").AddEndpointFilter(async (context, next) =>
            listeners.Metrics?.IPEndPoint?.Port is { } port && context.HttpContext.Connection.LocalPort == port
                ? await next(context)
                : Results.NotFound())
            .AddEndpointFilter(ExplorerAuthentication.Filter)
            .AddEndpointFilter(ExplorerStandbyGate.Filter);

        group.MapGet("/", (HttpContext c) => Asset(c, "index.html"));
        group.MapGet("/{file}", (HttpContext c, string file) => Asset(c, file));
        var api = group.MapGroup("/api");
        api.MapGet("/runs", (HttpContext c, ExplorerApi a, string? q, string? user, string? state, string? show, string? dataset, string? recipe, string? from, string? to, string? sort, string? order, string? page, string? size) =>
        {
            var (query, error) = RunsQuery.Parse(q, user, state, show, dataset, recipe, from, to, sort, order, page, size);
            return query is null ? ExplorerApi.BadRequest(error!) : a.Runs(c, query);
        });
        api.MapGet("/runs/{id}", (HttpContext c, ExplorerApi a, string id) => a.RunAsync(c, id));
        api.MapGet("/runs/{id}/assets", (HttpContext c, ExplorerApi a, string id) => a.AssetsAsync(c, id));
        api.MapGet("/lineage/{digest}", (HttpContext c, ExplorerApi a, string digest, string? expand, string? page, string? size) => a.LineageAsync(c, digest, expand, page, size));
        api.MapGet("/impact/{asset}", (HttpContext c, ExplorerApi a, string asset) => a.ImpactAsync(c, asset));
        api.MapGet("/impact/{asset}/retrain/{runId}", (HttpContext c, ExplorerApi a, string asset, string runId) => a.RetrainSpecAsync(c, asset, runId));
        api.MapGet("/farm", (HttpContext c, ExplorerApi a) => ExplorerApi.Json(a.Farm(c)));
        api.MapGet("/farm/events", StreamFarmAsync);
        api.MapGet("/{**rest}", (string rest) => ExplorerApi.NotFound($"no Explorer API at /explorer/api/{rest}: see README, Explorer"));
        return endpoints;
    }

    /// <summary>Server-sent events: a farm snapshot now and every <see cref="FarmUpdateInterval"/> until the page closes.</summary>
    private static async Task StreamFarmAsync(HttpContext context, ExplorerApi api, TimeProvider time)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var ct = context.RequestAborted;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await context.Response.WriteAsync($"event: farm\ndata: {ExplorerApi.Text(api.Farm(context))}\n\n", ct);
                await context.Response.Body.FlushAsync(ct);
                await Task.Delay(FarmUpdateInterval, time, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The page closed: the stream ends with it.
        }
    }

    private static IResult Asset(HttpContext context, string file)
    {
        // The browser enforces "nothing from outside": scripts, styles, images and requests go to this origin only.
        context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        var stream = Assembly.GetManifestResourceStream(ResourcePrefix + file);
        if (stream is null)
        {
            return ExplorerApi.NotFound($"no Explorer page '{file}': start at /explorer/");
        }

        var type = Path.GetExtension(file) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            _ => "application/octet-stream",
        };
        return Results.Stream(stream, type);
    }
}
