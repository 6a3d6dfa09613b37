using System.Net;
using System.Text.Json.Nodes;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>The lineage graph of a dataset used by several runs: one node per run, paged, each opened on demand.</summary>
public sealed class ExplorerLineageScaleTests
{
    [Fact]
    public async Task A_dataset_used_by_many_runs_shows_one_node_per_run_paged_and_a_run_opens_into_its_rounds()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 24);
        await farm.StartAgentsAsync(2, "sim", new Dictionary<string, string> { ["RMTC_Agent__SimulateTrainingMs"] = "50" });
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            // Two runs of one spec: the graph must still tell their models apart.
            var job = await farm.SubmitPreparedAsync($"name: {(i < 2 ? "same-spec" : "other")}\nrecipe: classifier\ndataset: {data}\nshards: 1\nrounds: 1\n");
            var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(2));
            Assert.True(done.State == Protos.V1.JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");
            ids.Add(job.Id);
        }

        var dataset = farm.Scheduler.GetManifest(ids[0])!.Dataset.Digest;
        using var http = new HttpClient { BaseAddress = new Uri(farm.App.MetricsAddress()!, "/explorer/api/") };
        async Task<JsonObject> Graph(string query) => JsonNode.Parse(await http.GetStringAsync($"lineage/{dataset}{query}"))!.AsObject();
        static IReadOnlyList<JsonObject> Nodes(JsonObject g, string kind) => g["nodes"]!.AsArray().Select(n => n!.AsObject()).Where(n => (string)n["kind"]! == kind).ToList();

        // Page 1 of 2: the two newest runs as single nodes, no rounds or shards, and one node counting the rest.
        var first = await Graph("?size=2");
        Assert.Equal(3, (int)first["totalRuns"]!);
        Assert.Equal(2, (int)first["pages"]!);
        var runs = Nodes(first, "run");
        Assert.Equal([ids[2], ids[1], "… 1 more run"], runs.Select(n => (string)n["label"]!));
        Assert.Empty(Nodes(first, "round"));
        Assert.Empty(Nodes(first, "shard"));
        Assert.Contains("page=2", (string)runs[2]["href"]!);
        // Models are named by their digests, so the two models of one spec differ; the card names the run.
        var models = Nodes(first, "model").ToList();
        Assert.Equal(2, models.Select(n => (string)n["label"]!).Distinct().Count());
        Assert.Contains(models, n => (string)n["detail"]!["runId"]! == ids[1] && (string)n["label"]! == "model " + farm.Scheduler.GetManifest(ids[1])!.FinalModelDigest![..12]);

        var second = await Graph("?size=2&page=2");
        Assert.Equal([ids[0]], Nodes(second, "run").Select(n => (string)n["label"]!));

        // A run opened on demand: its round appears, the other runs stay single nodes.
        var opened = await Graph($"?size=2&expand={ids[1]}");
        Assert.Equal([ids[2], "… 1 more run"], Nodes(opened, "run").Select(n => (string)n["label"]!));
        Assert.Single(Nodes(opened, "round"));
        Assert.Equal(ids[1], (string)Nodes(opened, "round")[0]["detail"]!["runId"]!);

        using var bad = await http.GetAsync($"lineage/{dataset}?page=zero");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("page: 'zero' must be a whole number from 1", await bad.Content.ReadAsStringAsync());
        Assert.Equal(RunStates.Succeeded, farm.Scheduler.GetManifest(ids[2])!.State);
    }
}
