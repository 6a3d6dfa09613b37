using System.Text.Json.Nodes;
using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>The farm view while work runs: each agent's leases with what they are, their phase and their age.</summary>
public sealed class ExplorerFarmViewTests
{
    [Fact]
    public async Task A_running_shard_shows_its_run_round_shard_phase_and_elapsed_time_on_its_agent()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 16);
        await farm.StartAgentsAsync(1, "slow", new Dictionary<string, string> { ["RMTC_Agent__SimulateTrainingMs"] = "20000" });
        var job = await farm.SubmitPreparedAsync($"name: watched\nrecipe: classifier\ndataset: {data}\nshards: 1\nrounds: 1\n");
        using var http = new HttpClient { BaseAddress = new Uri(farm.App.MetricsAddress()!, "/explorer/api/") };

        JsonObject? lease = null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var view = JsonNode.Parse(await http.GetStringAsync("farm"))!.AsObject();
            lease = view["agents"]!.AsArray().SelectMany(a => a!["running"]!.AsArray()).Select(l => l!.AsObject())
                .FirstOrDefault(l => (string?)l["phase"] == "training (simulated)" && (double)l["seconds"]! >= 1);
            if (lease is not null)
            {
                break;
            }

            await Task.Delay(250);
        }

        Assert.NotNull(lease);
        Assert.Equal(job.Id, (string)lease["runId"]!);
        Assert.Equal("watched", (string)lease["name"]!);
        Assert.Equal("r1 shard 0", (string)lease["what"]!);
        await farm.Jobs.CancelJobAsync(new Protos.V1.CancelJobRequest { JobId = job.Id, Reason = "test over" });
    }
}
