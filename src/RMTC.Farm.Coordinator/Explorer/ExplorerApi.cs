using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Json;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Explorer;

/// <summary>
/// The Explorer's JSON answers. Every run passes through <see cref="IExplorerScope"/> before anything about it is
/// returned, so adding show scoping means changing the scope, not these handlers.
/// </summary>
internal sealed partial class ExplorerApi(IRunStore store, LineageQueries queries, FarmScheduler scheduler, IArtifactStore artifacts, IExplorerScope scope)
{
    private static readonly string[] RelatedKinds =
        [LineageIndexKinds.Model, LineageIndexKinds.Weights, LineageIndexKinds.Dataset, LineageIndexKinds.Asset, LineageIndexKinds.Derived];

    /// <summary>One page of runs, filtered and ordered as <paramref name="query"/> asks, with the count of all that match.</summary>
    public IResult Runs(HttpContext context, RunsQuery query)
    {
        var matching = query.Order(VisibleRuns(context).Where(query.Matches)).ToList();
        var pages = Math.Max(1, (matching.Count + query.Size - 1) / query.Size);
        var runs = matching.Skip((query.Page - 1) * query.Size).Take(query.Size).Select(m => (JsonNode)ExplorerJson.Summary(m)).ToArray();
        return Json(new JsonObject
        {
            ["runs"] = new JsonArray(runs),
            ["total"] = matching.Count,
            ["page"] = query.Page,
            ["pages"] = pages,
            ["size"] = query.Size,
        });
    }

    /// <summary>One run with its rounds, attempts, closure and chain verification.</summary>
    public async Task<IResult> RunAsync(HttpContext context, string id)
    {
        if (await FindVisibleRunAsync(context, id) is not { } m)
        {
            return NotFound($"no run has the id or unique id prefix '{id}': pick one from the runs list (/explorer/)");
        }

        var (_, events, problems) = await queries.VerifyAsync(m, context.RequestAborted);
        var derivations = await store.ReadDerivationsAsync(m.RunId, context.RequestAborted);
        return Json(ExplorerJson.Run(m, problems, events.Count, derivations));
    }

    /// <summary>Every asset of a run's dataset (path and sha256), for the provenance report.</summary>
    public async Task<IResult> AssetsAsync(HttpContext context, string id)
    {
        if (await FindVisibleRunAsync(context, id) is not { } m)
        {
            return NotFound($"no run has the id or unique id prefix '{id}': pick one from the runs list (/explorer/)");
        }

        var assets = m.Dataset.AssetsDigest is { } d && artifacts.ReadJson(d) is { } json ? AssetList.FromJson(json) : [];
        return Json(new JsonObject
        {
            ["runId"] = m.RunId,
            ["assets"] = new JsonArray(assets.Select(a => (JsonNode)new JsonObject { ["path"] = a.Path, ["sha256"] = a.Sha256 }).ToArray()),
        });
    }

    /// <summary>Runs drawn per page of a lineage graph by default; the rest are one "… N more runs" node opening the next page.</summary>
    public const int GraphRunsPerPage = 25;

    /// <summary>
    /// The graph of every run that made, used or was made from <paramref name="digest"/>, newest run first. Each run is
    /// one node unless it is the only one or named in <paramref name="expand"/> (run ids, comma-separated): then its
    /// rounds and shard results are drawn too. <paramref name="page"/> (1-based) pages through the runs,
    /// <paramref name="size"/> of them a page (<see cref="GraphRunsPerPage"/> unless given, at most 200).
    /// </summary>
    public async Task<IResult> LineageAsync(HttpContext context, string digest, string? expand, string? page, string? size = null)
    {
        if (Normalise(digest) is not { } d)
        {
            return BadDigest(digest);
        }

        if (!int.TryParse(page ?? "1", System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) || p < 1)
        {
            return BadRequest($"page: '{page}' must be a whole number from 1");
        }

        if (!int.TryParse(size ?? GraphRunsPerPage.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var perPage) || perPage is < 1 or > 200)
        {
            return BadRequest($"size: '{size}' must be a whole number from 1 to 200");
        }

        var ids = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var kind in RelatedKinds)
        {
            ids.UnionWith(await store.LookupAsync(kind, d, context.RequestAborted));
        }

        // Who each run is comes from the published view (a summary per run, kept once a run ended): a dataset used by
        // a thousand runs costs a thousand dictionary lookups here, and manifests are read only for expanded runs.
        var view = scheduler.View;
        var visible = new List<RunSummary>();
        foreach (var id in ids)
        {
            if ((view.Find(id)?.Summary ?? await StoredSummaryAsync(id, context.RequestAborted)) is { } m && scope.MaySee(context, m))
            {
                visible.Add(m);
            }
        }

        if (visible.Count == 0)
        {
            return NotFound($"no model, weights, dataset, asset, export or inference output with sha256 {d} is in the lineage store: check the digest (e.g. with `rmtc lineage trace {d[..12]}...`)");
        }

        var pages = (visible.Count + perPage - 1) / perPage;
        p = Math.Min(p, pages);
        var expanded = (expand ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var link = (string? open, int at) => $"lineage.html?digest={d}" + (open is null ? "" : "&expand=" + Uri.EscapeDataString(open)) + (at > 1 ? $"&page={at}" : "") + (size is null ? "" : $"&size={perPage}");
        var graph = new ExplorerGraph(artifacts);
        var runs = new JsonArray();
        foreach (var m in visible.OrderByDescending(m => m.SubmittedAt).Skip((p - 1) * perPage).Take(perPage))
        {
            var derivations = await store.ReadDerivationsAsync(m.RunId, context.RequestAborted);
            if ((visible.Count == 1 || expanded.Contains(m.RunId)) && await ManifestAsync(m.RunId, context.RequestAborted) is { } whole)
            {
                graph.AddRun(whole, derivations);
            }
            else
            {
                graph.AddCollapsedRun(m, derivations, link(string.Join(',', expanded.Append(m.RunId)), p));
            }

            runs.Add(ExplorerJson.Summary(m));
        }

        if (p < pages)
        {
            graph.AddMoreRuns(visible.Count - p * perPage, link(expanded.Count == 0 ? null : string.Join(',', expanded), p + 1));
        }

        var o = graph.ToJson(d);
        o["digest"] = d;
        o["runs"] = runs;
        o["totalRuns"] = visible.Count;
        o["page"] = p;
        o["pages"] = pages;
        o["previous"] = p > 1 ? link(expanded.Count == 0 ? null : string.Join(',', expanded), p - 1) : null;
        o["next"] = p < pages ? link(expanded.Count == 0 ? null : string.Join(',', expanded), p + 1) : null;
        return Json(o);
    }

    /// <summary>Models affected by withdrawing <paramref name="asset"/>, each with the spec and command that retrain without it.</summary>
    public async Task<IResult> ImpactAsync(HttpContext context, string asset)
    {
        if (Normalise(asset) is not { } d)
        {
            return BadDigest(asset);
        }

        var impact = await queries.ImpactAsync(d, context.RequestAborted);
        var visible = new JsonArray();
        foreach (var a in impact["affected"]!.AsArray().Select(n => n!.AsObject()))
        {
            var runId = (string)a["runId"]!;
            if ((scheduler.View.Find(runId)?.Summary ?? await StoredSummaryAsync(runId, context.RequestAborted)) is { } m && scope.MaySee(context, m))
            {
                var copy = a.DeepClone().AsObject();
                copy["specHref"] = $"api/impact/{d}/retrain/{runId}";
                visible.Add(copy);
            }
        }

        if (visible.Count == 0)
        {
            return NotFound($"no run trained on an asset with sha256 {d}: check the digest (asset digests are listed on a run's provenance report)");
        }

        return Json(new JsonObject { ["asset"] = d, ["affected"] = visible });
    }

    /// <summary>The retrain spec of one affected run, as a file to save and pass to <c>rmtc submit</c>.</summary>
    public async Task<IResult> RetrainSpecAsync(HttpContext context, string asset, string runId)
    {
        if (Normalise(asset) is not { } d)
        {
            return BadDigest(asset);
        }

        if (await FindVisibleRunAsync(context, runId) is not { Spec: { } spec } m)
        {
            return NotFound($"no run with id '{runId}' and a job spec: open the impact view of the asset for the affected runs");
        }

        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{RetrainSpec.FileName(m.RunId)}\"";
        return Results.Text(RetrainSpec.Yaml(spec, m.Dataset.Path, d), "application/yaml; charset=utf-8");
    }

    /// <summary>Agents, their GPUs (latest heartbeat samples), queued and running shards.</summary>
    public JsonObject Farm(HttpContext context)
    {
        var view = scheduler.View;
        var snapshot = view.Counts;
        var gpus = view.GpusByAgent;
        var yielding = view.Yielding;
        var live = view.Runs.Where(r => !r.IsFinal && scope.MaySee(context, r.Summary)).ToList();
        // Each agent's live leases with their progress (the agent's heartbeats) and how long they have run.
        var names = live.ToDictionary(r => r.Id, r => r.Name, StringComparer.Ordinal);
        var leases = view.Agents.ToDictionary(a => a.Id, a => a.Leases.Where(l => names.ContainsKey(l.RunId)).ToList(), StringComparer.Ordinal);
        return new JsonObject
        {
            ["at"] = DateTimeOffset.UtcNow,
            ["agentsConnected"] = snapshot.AgentsConnected,
            ["shardsQueued"] = live.Sum(r => r.Shards.Count(s => s.Status == ShardStatus.Waiting)),
            ["shardsRunning"] = live.Sum(r => r.Shards.Count(s => s.Status == ShardStatus.Running)),
            ["agents"] = new JsonArray(snapshot.Agents.OrderBy(a => a.AgentId, StringComparer.Ordinal).Select(a => (JsonNode)new JsonObject
            {
                ["id"] = a.AgentId,
                ["hostname"] = a.Hostname,
                ["connected"] = a.Connected,
                ["yielded"] = yielding.GetValueOrDefault(a.AgentId),
                ["running"] = new JsonArray(leases.GetValueOrDefault(a.AgentId, []).Select(l => (JsonNode)new JsonObject
                {
                    ["runId"] = l.RunId,
                    ["name"] = names[l.RunId],
                    ["what"] = l.Task switch { "prepare" => "preparation", "evaluate" => $"evaluation of round {l.Round}", _ => $"r{l.Round} shard {l.Shard}" + (l.Speculative ? " (speculative)" : "") },
                    ["seconds"] = Math.Round((view.TakenAt - l.GrantedAt).TotalSeconds, 1),
                    ["phase"] = l.Progress?.Phase,
                    ["done"] = l.Progress is { SamplesTotal: > 0 } p ? Math.Round((double)p.SamplesSeen / p.SamplesTotal, 3) : null,
                    ["epoch"] = l.Progress is { TrainingEpochs: > 0 } e ? $"{e.TrainingEpoch}/{e.TrainingEpochs}" : null,
                }).ToArray()),
                ["gpus"] = new JsonArray(gpus.GetValueOrDefault(a.AgentId, []).Select(g => (JsonNode)new JsonObject
                {
                    ["index"] = g.Index,
                    ["name"] = g.Name,
                    ["utilisation"] = g.UtilizationPercent,
                    ["memoryUsedMiB"] = g.MemoryUsedMib,
                    ["memoryTotalMiB"] = g.MemoryTotalMib,
                    ["simulated"] = g.Simulated,
                }).ToArray()),
            }).ToArray()),
            ["runs"] = new JsonArray(live.Select(r => (JsonNode)new JsonObject
            {
                ["runId"] = r.Id,
                ["name"] = r.Name,
                ["state"] = r.State,
                ["round"] = r.Round,
                ["rounds"] = r.Spec.Rounds,
                ["queued"] = r.Shards.Count(s => s.Status == ShardStatus.Waiting),
                ["running"] = r.Shards.Count(s => s.Status == ShardStatus.Running),
                ["done"] = r.Shards.Count(s => s.Status == ShardStatus.Succeeded),
            }).ToArray()),
        };
    }

    /// <summary>
    /// Every run the caller may see, from the published view: the scheduler holds every run of the store (recovered at
    /// start, submitted since), so no manifest is read or copied per request, however many runs there are.
    /// </summary>
    private IEnumerable<RunSummary> VisibleRuns(HttpContext context) =>
        scheduler.View.Runs.Select(r => r.Summary).Where(m => scope.MaySee(context, m));

    /// <summary>The summary of a run the scheduler does not hold (written to the store by another process), or null.</summary>
    private async Task<RunSummary?> StoredSummaryAsync(string runId, CancellationToken ct) =>
        await store.GetAsync(runId, ct) is { } m ? RunSummary.Of(m) : null;

    // The scheduler resolves ids and prefixes over every run it holds (all of the store's); the store is asked only for
    // an exact id, never listed, so an unknown id costs one lookup however many runs there are.
    private async Task<RunManifest?> FindVisibleRunAsync(HttpContext context, string id) =>
        (await scheduler.GetManifestAsync(id, context.RequestAborted) ?? await store.GetAsync(id, context.RequestAborted)) is { } m && scope.MaySee(context, m) ? m : null;

    private async Task<RunManifest?> ManifestAsync(string runId, CancellationToken ct) =>
        await scheduler.GetManifestAsync(runId, ct) ?? await store.GetAsync(runId, ct);

    /// <summary>A sha256 as the stores key it (64 lower-case hex), from a digest written with or without "sha256:".</summary>
    internal static string? Normalise(string digest)
    {
        var d = digest.Trim().ToLowerInvariant();
        d = d.StartsWith("sha256:", StringComparison.Ordinal) ? d[7..] : d;
        return Sha256Hex().IsMatch(d) ? d : null;
    }

    private static IResult BadDigest(string digest) => Problem(StatusCodes.Status400BadRequest,
        $"'{digest}' is not a sha256 digest: give 64 hex characters (optionally prefixed 'sha256:'), as `rmtc lineage` and the run page print them");

    internal static IResult NotFound(string message) => Problem(StatusCodes.Status404NotFound, message);

    internal static IResult BadRequest(string message) => Problem(StatusCodes.Status400BadRequest, message);

    internal static IResult Problem(int status, string message) =>
        Results.Text(Text(new JsonObject { ["error"] = message, ["status"] = status }), "application/json; charset=utf-8", statusCode: status);

    internal static IResult Json(JsonObject o) => Results.Text(Text(o), "application/json; charset=utf-8");

    /// <summary>Compact JSON that keeps quotes and non-ASCII readable: it is served as application/json, never inlined into HTML.</summary>
    private static readonly System.Text.Json.JsonSerializerOptions Compact = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The text of every Explorer answer: 64-bit integers as strings (<see cref="JsonIntegers"/>), so the page's JavaScript reads seeds exactly.</summary>
    internal static string Text(JsonNode o) => JsonIntegers.ToJsonString(o, Compact);

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Hex();
}
