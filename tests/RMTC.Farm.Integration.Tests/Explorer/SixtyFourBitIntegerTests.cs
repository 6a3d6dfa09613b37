using System.Text.Json.Nodes;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>
/// Every 64-bit integer the coordinator serves as JSON (the Explorer's API, the CLI's <c>--json</c> of lineage queries)
/// reaches a JavaScript reader with all its digits: written as strings. The run's spec seed is 2^53 + 1 and its derived
/// seeds are 63-bit, so a JSON number anywhere would be rounded by <c>JSON.parse</c>.
/// </summary>
[Collection(ExplorerCollection.Name)]
public sealed class SixtyFourBitIntegerTests(ExplorerFarm fixture)
{
    [Fact]
    public void The_run_seeds_are_past_what_a_double_holds_so_these_tests_mean_something()
    {
        var seeds = fixture.Run.Seeds;
        Assert.Equal(ExplorerFarm.Seed, seeds.Run);
        Assert.True(seeds.Run > JavaScriptNumbers.MaxSafeInteger);
        Assert.True(seeds.Init > JavaScriptNumbers.MaxSafeInteger || seeds.Init < -JavaScriptNumbers.MaxSafeInteger, $"init seed {seeds.Init}");
        Assert.True((long)(double)seeds.Run != seeds.Run, "a double would round the spec seed");
    }

    [Fact]
    public async Task Every_explorer_answer_writes_64_bit_integers_as_strings_a_javascript_reader_gets_exactly()
    {
        var m = fixture.Run;
        foreach (var path in new[]
        {
            "api/runs", $"api/runs/{m.RunId}", $"api/runs/{m.RunId}/assets", $"api/lineage/{m.FinalModelDigest}", $"api/lineage/{m.Dataset.Digest}",
            $"api/lineage/{m.InitialWeightsDigest}", $"api/impact/{fixture.AnAsset}", "api/farm",
        })
        {
            var (status, body) = await fixture.GetAsync(path);
            Assert.Equal(System.Net.HttpStatusCode.OK, status);
            Assert.True(JavaScriptNumbers.Unsafe(body) is [], $"{path} has integers JavaScript rounds: {string.Join(", ", JavaScriptNumbers.Unsafe(body))}");
        }

        var run = JsonNode.Parse((await fixture.GetAsync($"api/runs/{m.RunId}")).Body)!;
        Assert.Equal(m.Seeds.Run.ToString(System.Globalization.CultureInfo.InvariantCulture), (string)run["seeds"]!["run"]!);
        Assert.Equal(m.Seeds.Init.ToString(System.Globalization.CultureInfo.InvariantCulture), (string)run["seeds"]!["init"]!);
        Assert.Equal(m.Seeds.ShardPlan.ToString(System.Globalization.CultureInfo.InvariantCulture), (string)run["seeds"]!["shardPlan"]!);
        Assert.Equal(m.Seeds.Run.ToString(System.Globalization.CultureInfo.InvariantCulture), (string)run["spec"]!["seed"]!);
        Assert.Equal(
            m.Rounds.SelectMany(r => r.Shards).Select(s => s.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            run["rounds"]!.AsArray().SelectMany(r => r!["shards"]!.AsArray()).Select(s => (string)s!["seed"]!));

        // The initial weights' node in the lineage graph carries the init seed in its detail card.
        var graph = JsonNode.Parse((await fixture.GetAsync($"api/lineage/{m.InitialWeightsDigest}")).Body)!;
        var initial = Assert.Single(graph["nodes"]!.AsArray(), n => (string)n!["id"]! == "weights:" + m.InitialWeightsDigest)!;
        Assert.Equal(m.Seeds.Init.ToString(System.Globalization.CultureInfo.InvariantCulture), (string)initial["detail"]!["seed"]!);
    }

    [Fact]
    public async Task Every_json_the_cli_prints_from_the_coordinator_writes_64_bit_integers_as_strings()
    {
        var m = fixture.Run;
        var address = fixture.Farm.Address;
        foreach (var args in new[]
        {
            new[] { "lineage", "show", m.RunId, "--json" },
            ["lineage", "trace", m.FinalModelDigest!, "--up", "--json"],
            ["lineage", "trace", m.Dataset.Digest, "--down", "--json"],
            ["lineage", "impact", "--asset", fixture.AnAsset, "--json"],
            ["lineage", "export", m.RunId, "--format", "in-toto"],
            ["lineage", "verify", m.RunId, "--json"],
            ["status", m.RunId, "--json"],
        })
        {
            var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), [.. args, "--coordinator", address]);
            Assert.True(code == 0, $"rmtc {string.Join(' ', args)}: {output}");
            Assert.True(JavaScriptNumbers.Unsafe(output) is [], $"rmtc {string.Join(' ', args)} prints integers JavaScript rounds: {string.Join(", ", JavaScriptNumbers.Unsafe(output))}");
        }

        // `lineage show --json` is the manifest: its seeds read back exactly, as strings.
        var (_, shown) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "lineage", "show", m.RunId, "--json", "--coordinator", address);
        var manifest = JsonNode.Parse(shown)!;
        Assert.Equal(m.Seeds.Init.ToString(System.Globalization.CultureInfo.InvariantCulture), (string)manifest["seeds"]!["init"]!);
        Assert.Equal(m.Seeds.Init, RMTC.Farm.Core.Lineage.RunManifest.FromJson(shown).Seeds.Init);
    }
}
