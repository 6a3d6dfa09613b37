using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.Explorer;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>The Explorer's JSON API over plain HTTP (no browser), on a farm with one completed run.</summary>
[Collection(ExplorerCollection.Name)]
public sealed class ExplorerApiTests(ExplorerFarm fixture)
{
    private static JsonObject Parse(string body) => JsonNode.Parse(body)!.AsObject();

    [Fact]
    public async Task Runs_list_shows_the_run_and_filters_by_state_user_dataset_and_name()
    {
        var m = fixture.Run;
        var all = Parse((await fixture.GetAsync("api/runs")).Body)["runs"]!.AsArray();
        var run = Assert.Single(all, r => (string)r!["runId"]! == m.RunId)!;
        Assert.Equal("succeeded", (string)run["state"]!);
        Assert.Equal(m.FinalModelDigest, (string?)run["model"]);

        foreach (var query in new[] { "state=succeeded", $"user={Uri.EscapeDataString(m.SubmittedBy)}", $"dataset={Uri.EscapeDataString(m.Dataset.Name)}", "q=explo" })
        {
            Assert.Contains(Parse((await fixture.GetAsync("api/runs?" + query)).Body)["runs"]!.AsArray(), r => (string)r!["runId"]! == m.RunId);
        }

        foreach (var query in new[] { "state=failed", "user=nobody-else", "dataset=no-such-dataset", "q=zzz", "recipe=denoiser", "from=2999-01-01" })
        {
            Assert.Empty(Parse((await fixture.GetAsync("api/runs?" + query)).Body)["runs"]!.AsArray());
        }

        // Paged on the server: the count of every match comes with the page.
        var first = Parse((await fixture.GetAsync("api/runs?recipe=classifier&to=2999-12-31&size=1&sort=name&order=asc")).Body);
        Assert.Single(first["runs"]!.AsArray());
        Assert.Equal((int)first["total"]!, (int)first["pages"]!);
        var beyond = Parse((await fixture.GetAsync($"api/runs?size=1&page={(int)first["pages"]! + 1}")).Body);
        Assert.Empty(beyond["runs"]!.AsArray());

        // A bad parameter is a 400 naming it, not an empty list.
        var (status, body) = await fixture.GetAsync("api/runs?from=last-week");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("from: 'last-week' is not a date", body);
    }

    [Fact]
    public async Task Run_has_loss_per_round_attempts_per_agent_merged_digests_closure_and_an_intact_chain()
    {
        var m = fixture.Run;
        var (status, body) = await fixture.GetAsync("api/runs/" + m.RunId[..8]);
        Assert.Equal(HttpStatusCode.OK, status);
        var run = Parse(body);
        var rounds = run["rounds"]!.AsArray();
        Assert.Equal(2, rounds.Count);
        Assert.All(rounds, r => Assert.True((double?)r!["meanLoss"] > 0));
        Assert.Equal(m.Rounds[1].MergedResults, rounds[1]!["merged"]!.AsArray().Select(d => (string)d!));
        Assert.Equal(2, rounds.SelectMany(r => r!["attempts"]!.AsArray()).Select(a => (string)a!["agent"]!).Distinct().Count());
        // The preparation task's attempts sit beside the shards' (the run page's timeline shows both).
        var prepare = Assert.Single(run["tasks"]!.AsArray(), t => (string)t!["kind"]! == "prepare")!;
        Assert.Equal(m.InitialWeightsDigest, (string?)prepare["output"]);
        Assert.Equal("succeeded", (string)prepare["attempts"]!.AsArray()[^1]!["outcome"]!);
        Assert.Contains("CC0-1.0", run["licenceClosure"]!["licences"]!.AsArray().Select(l => (string)l!));
        Assert.True((bool)run["verification"]!["intact"]!, run["verification"]!.ToJsonString());
        Assert.True((bool)run["verification"]!["sealed"]!);
    }

    [Fact]
    public async Task Lineage_graph_of_the_model_leads_through_rounds_and_shards_to_the_dataset_and_its_licence()
    {
        var m = fixture.Run;
        var graph = Parse((await fixture.GetAsync("api/lineage/sha256:" + m.FinalModelDigest)).Body);
        var nodes = graph["nodes"]!.AsArray().Select(n => n!.AsObject()).ToDictionary(n => (string)n["id"]!);
        var edges = graph["edges"]!.AsArray().Select(e => ((string)e!["from"]!, (string)e["to"]!)).ToHashSet();
        var model = "model:" + m.FinalModelDigest;
        Assert.True((bool)nodes[model]["focus"]!);

        // Follow the edges from the model: every step exists, and the dataset carries its licence.
        var lastRound = "round:" + m.Rounds[1].OutputDigest;
        var shard = "shard:" + m.Rounds[1].MergedResults[0];
        var dataset = "dataset:" + m.Dataset.Digest;
        Assert.Contains((model, lastRound), edges);
        Assert.Contains((lastRound, "round:" + m.Rounds[0].OutputDigest), edges);
        Assert.Contains((lastRound, shard), edges);
        Assert.Contains((shard, dataset), edges);
        Assert.Contains((dataset, "licence:closure:" + m.Dataset.Digest), edges);
        Assert.Equal("CC0-1.0", (string)nodes[dataset]["detail"]!["licence"]!);
        Assert.Equal(ExplorerGraph.AssetsShown + 1, edges.Count(e => e.Item1 == dataset && e.Item2.StartsWith("asset:", StringComparison.Ordinal)));

        // Down from the dataset: the same run's graph, focused on the dataset.
        var down = Parse((await fixture.GetAsync("api/lineage/" + m.Dataset.Digest)).Body);
        Assert.Contains(down["nodes"]!.AsArray(), n => (string)n!["id"]! == dataset && (bool)n["focus"]!);
    }

    [Fact]
    public async Task Lineage_graph_of_an_inference_output_leads_through_the_onnx_export_to_the_model()
    {
        var graph = Parse((await fixture.GetAsync("api/lineage/" + fixture.InferenceOutput)).Body);
        var edges = graph["edges"]!.AsArray().Select(e => ((string)e!["from"]!, (string)e["to"]!)).ToHashSet();
        var inference = "inference:" + fixture.InferenceOutput;
        var export = "export:" + fixture.OnnxDigest;
        Assert.Contains((inference, export), edges);
        Assert.Contains((export, "model:" + fixture.Run.FinalModelDigest), edges);
        Assert.Contains(graph["nodes"]!.AsArray(), n => (string)n!["id"]! == inference && (bool)n["focus"]!);
        Assert.Equal(fixture.Run.RunId, (string)Assert.Single(graph["runs"]!.AsArray())!["runId"]!);
    }

    [Fact]
    public async Task A_scope_that_refuses_the_run_hides_it_from_every_answer()
    {
        // The one place show scoping will go: a scope that refuses this run must leave no trace of it.
        var services = fixture.Farm.App.Services;
        var api = new ExplorerApi(
            services.GetRequiredService<RMTC.Farm.Coordinator.Storage.IRunStore>(),
            services.GetRequiredService<RMTC.Farm.Coordinator.Lineage.LineageQueries>(),
            fixture.Farm.Scheduler,
            fixture.Farm.Artifacts,
            new RefuseAll());
        var m = fixture.Run;
        var everything = RunsQuery.Parse(null, null, null, null, null, null, null, null, null, null, null, null).Query!;
        Assert.Equal(200, (await ExecuteAsync(api, (a, c) => Task.FromResult(a.Runs(c, everything)))).Status);
        Assert.DoesNotContain(m.RunId, (await ExecuteAsync(api, (a, c) => Task.FromResult(a.Runs(c, everything)))).Body);
        Assert.Equal(404, (await ExecuteAsync(api, (a, c) => a.RunAsync(c, m.RunId))).Status);
        Assert.Equal(404, (await ExecuteAsync(api, (a, c) => a.AssetsAsync(c, m.RunId))).Status);
        Assert.Equal(404, (await ExecuteAsync(api, (a, c) => a.LineageAsync(c, m.FinalModelDigest!, null, null))).Status);
        Assert.Equal(404, (await ExecuteAsync(api, (a, c) => a.ImpactAsync(c, fixture.AnAsset))).Status);
        Assert.Equal(404, (await ExecuteAsync(api, (a, c) => a.RetrainSpecAsync(c, fixture.AnAsset, m.RunId))).Status);
    }

    private async Task<(int Status, string Body)> ExecuteAsync(ExplorerApi api, Func<ExplorerApi, HttpContext, Task<IResult>> call)
    {
        var context = new DefaultHttpContext { RequestServices = fixture.Farm.App.Services };
        using var body = new MemoryStream();
        context.Response.Body = body;
        await (await call(api, context)).ExecuteAsync(context);
        return (context.Response.StatusCode, System.Text.Encoding.UTF8.GetString(body.ToArray()));
    }

    private sealed class RefuseAll : IExplorerScope
    {
        public bool MaySeeShow(HttpContext context, string? show) => false;
    }

    [Fact]
    public async Task Impact_of_an_asset_lists_the_model_with_the_retrain_command_and_its_spec()
    {
        var asset = fixture.AnAsset;
        var impact = Parse((await fixture.GetAsync("api/impact/" + asset)).Body);
        var affected = Assert.Single(impact["affected"]!.AsArray())!;
        Assert.Equal(fixture.Run.FinalModelDigest, (string?)affected["model"]);
        Assert.Equal($"retrain-{fixture.Run.RunId}.yaml", (string)affected["specFile"]!);
        Assert.Equal($"rmtc submit retrain-{fixture.Run.RunId}.yaml --wait", (string)affected["command"]!);

        using var response = await fixture.Http.GetAsync(new Uri(fixture.Explorer, (string)affected["specHref"]!));
        var spec = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"retrain-{fixture.Run.RunId}.yaml", response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        Assert.Contains("exclude_assets:", spec);
        Assert.Contains(asset, spec);
    }

    [Theory]
    [InlineData("api/lineage/0000000000000000000000000000000000000000000000000000000000000000", HttpStatusCode.NotFound, "no model, weights, dataset, asset")]
    [InlineData("api/lineage/not-a-digest", HttpStatusCode.BadRequest, "'not-a-digest' is not a sha256 digest")]
    [InlineData("api/impact/1111111111111111111111111111111111111111111111111111111111111111", HttpStatusCode.NotFound, "no run trained on an asset with sha256 1111")]
    [InlineData("api/runs/no-such-run", HttpStatusCode.NotFound, "no run has the id or unique id prefix 'no-such-run'")]
    [InlineData("api/nothing-here", HttpStatusCode.NotFound, "no Explorer API at /explorer/api/nothing-here")]
    [InlineData("no-such-page.html", HttpStatusCode.NotFound, "no Explorer page 'no-such-page.html'")]
    public async Task Unknown_or_malformed_input_gets_a_status_and_a_message_that_says_what_is_wrong(string path, HttpStatusCode expected, string message)
    {
        var (status, body) = await fixture.GetAsync(path);
        Assert.Equal(expected, status);
        Assert.Contains(message, body);
    }

    [Fact]
    public async Task Pages_and_assets_come_from_the_assembly_and_reference_nothing_outside()
    {
        foreach (var page in new[] { "", "run.html", "lineage.html", "impact.html", "report.html", "farm.html", "app.js", "app.css" })
        {
            using var response = await fixture.Http.GetAsync(new Uri(fixture.Explorer, page));
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
            Assert.DoesNotContain("http://", body.Replace("http://www.w3.org/2000/svg", "", StringComparison.Ordinal));
            Assert.DoesNotContain("https://", body);
        }
    }

    [Fact]
    public async Task The_explorer_answers_only_on_the_metrics_port()
    {
        // The gRPC port speaks HTTP/2 only: ask it with prior knowledge, as a curious client would.
        using var h2 = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await h2.GetAsync(new Uri(new Uri(fixture.Farm.Address), "/explorer/api/runs"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain(fixture.Run.RunId, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Farm_events_stream_snapshots_of_agents_and_shards()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await fixture.Http.GetAsync(new Uri(fixture.Explorer, "api/farm/events"), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        var snapshots = new List<JsonObject>();
        while (snapshots.Count < 2 && await reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                snapshots.Add(Parse(line[6..]));
            }
        }

        Assert.Equal(2, snapshots.Count);
        Assert.All(snapshots, s => Assert.Equal(2, (int)s["agentsConnected"]!));
        var agents = snapshots[1]["agents"]!.AsArray();
        Assert.Equal(["agent-1", "agent-2"], agents.Select(a => (string)a!["id"]!));
        // Each agent shows its own GPU, even though both run on this host.
        Assert.All(agents, a => Assert.True((bool)Assert.Single(a!["gpus"]!.AsArray())!["simulated"]!, a.ToJsonString()));
    }
}
