using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.DataPlane;
using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.PeerFetch;

/// <summary>
/// Runs on real agent processes where the coordinator names a peer: a real agent that holds the round's weights, a fake
/// peer that serves the wrong bytes (named as such), and one that is down. The run completes and its manifest verifies
/// either way. Initial weights are built in the test so their digest is known before any agent asks for them.
/// </summary>
public sealed class PeerFetchRunTests
{
    private const string Spec = "name: {0}\nrecipe: classifier\ndataset: {1}\nshards: 1\nrounds: 1\nseed: {2}\nresources: {{ tags: [{3}] }}\nlocal: {{ epochs: 1, batch_size: 8 }}\n";

    [Fact]
    public async Task A_second_agent_fetches_the_rounds_weights_from_the_first_and_the_run_verifies()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 40);
        var run = await farm.SubmitPreparedAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, Spec, "pair", data, 11, "a").Replace("shards: 1", "shards: 2", StringComparison.Ordinal));
        var initial = farm.Scheduler.GetManifest(run.Id)!.InitialWeightsDigest;

        // The first agent (one slot) takes shard 0 and fetches round 1's weights from the coordinator; its training is
        // simulated and slow, so shard 1 is still queued when the second agent joins and takes it.
        var holding = new Dictionary<string, string>(Tagged("a")) { ["RMTC_Agent__SimulateTrainingMs"] = "12000" };
        var first = (await farm.StartAgentsAsync(1, "first", holding))[0];
        await FarmFixture.WaitUntilAsync(() => farm.App.Services.GetRequiredService<PeerDirectory>().Holders(initial).Contains(first.Id), TimeSpan.FromSeconds(30), farm.AgentLogs);
        var second = (await farm.StartAgentsAsync(1, "second", Tagged("a")))[0];
        var done = await farm.WaitAsync(run.Id, TimeSpan.FromMinutes(3));

        Assert.True(done.State == JobState.Succeeded, farm.AgentLogs());
        var manifest = farm.Scheduler.GetManifest(run.Id)!;
        Assert.Equal(initial, manifest.Rounds[0].InputDigest);
        Assert.Equal([first.Id, second.Id], manifest.Rounds[0].Attempts.Select(a => a.AgentId).Order(StringComparer.Ordinal));
        Assert.Matches($@"Fetched weights {initial} \(\d+ bytes, digest checked\) from data plane ", first.Output);
        Assert.Matches($@"Fetched weights {initial} \(\d+ bytes, digest checked\) from peer agent http://127\.0\.0\.1:\d+", second.Output);
        Assert.Contains($"Served {initial} to a peer at 127.0.0.1", first.Output);
        Assert.DoesNotContain("Peer refused", second.Output);
        await AssertVerifiesAsync(farm, run.Id);
    }

    [Fact]
    public async Task A_rounds_leases_sent_at_once_take_the_weights_from_one_coordinator_fetch_relayed_by_peers()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 80);
        var agents = await farm.StartAgentsAsync(4, "fan", Tagged("a"));
        var run = await farm.SubmitPreparedAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, Spec, "fan", data, 31, "a").Replace("shards: 1", "shards: 4", StringComparison.Ordinal));
        var initial = farm.Scheduler.GetManifest(run.Id)!.InitialWeightsDigest;
        var done = await farm.WaitAsync(run.Id, TimeSpan.FromMinutes(3));

        Assert.True(done.State == JobState.Succeeded, farm.AgentLogs());
        var sources = agents.Select(a => Regex.Match(a.Output, $@"Fetched weights {initial} \(\d+ bytes, digest checked\) from (peer agent|data plane)").Groups[1].Value).ToList();
        Assert.All(sources, s => Assert.NotEqual("", s));
        // The coordinator named one agent to fetch from it and the others to that agent (relayed while it fetched, or
        // served once it held them); a peer slow to start could send one more to the coordinator, never all.
        Assert.InRange(sources.Count(s => s == "data plane"), 1, 2);
        Assert.InRange(sources.Count(s => s == "peer agent"), 2, 3);
        Assert.Equal(4, farm.Scheduler.GetManifest(run.Id)!.Rounds[0].Attempts.Select(a => a.AgentId).Distinct().Count());
        await AssertVerifiesAsync(farm, run.Id);
    }

    [Fact]
    public async Task A_peer_serving_the_wrong_bytes_or_down_is_refused_and_the_coordinator_serves_the_weights()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 40);
        var peers = farm.App.Services.GetRequiredService<PeerDirectory>();

        // Two runs whose round 1 starts at once; the directory believes a fake peer holds each one's weights.
        var wrongRun = await farm.SubmitPreparedAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, Spec, "wrong", data, 21, "b"));
        var downRun = await farm.SubmitPreparedAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, Spec, "down", data, 22, "b"));
        var wrongWeights = farm.Scheduler.GetManifest(wrongRun.Id)!.InitialWeightsDigest;
        var downWeights = farm.Scheduler.GetManifest(downRun.Id)!.InitialWeightsDigest;
        Assert.NotEqual(wrongWeights, downWeights);
        var served = farm.Artifacts.ReadAllBytes(wrongWeights);
        served[^1] ^= 0x01;
        await using var fake = new WrongBytesPeer(served);
        var down = DownPeer.Address();
        PretendHolds(peers, "fake-wrong-bytes-peer", fake.Address, wrongWeights);
        PretendHolds(peers, "fake-down-peer", down, downWeights);

        var agent = (await farm.StartAgentsAsync(1, "fetcher", Tagged("b")))[0];
        var wrongDone = await farm.WaitAsync(wrongRun.Id, TimeSpan.FromMinutes(3));
        var downDone = await farm.WaitAsync(downRun.Id, TimeSpan.FromMinutes(3));

        Assert.True(wrongDone.State == JobState.Succeeded && downDone.State == JobState.Succeeded, farm.AgentLogs());
        Assert.True(fake.Requests >= 1, "the wrong-bytes peer was never asked");
        var output = agent.Output;
        Assert.Contains($"Refused the bytes of {wrongWeights} from peer agent {fake.Address}/: they hash to ", output);
        Assert.Matches($@"Fetched weights {wrongWeights} \(\d+ bytes, digest checked\) from data plane ", output);
        Assert.Contains($"Peer refused for {downWeights}: peer agent {down}/ failed", output);
        Assert.Matches($@"Fetched weights {downWeights} \(\d+ bytes, digest checked\) from data plane ", output);
        Assert.DoesNotMatch($@"Fetched weights \w+ \(\d+ bytes, digest checked\) from peer agent", output);
        await AssertVerifiesAsync(farm, wrongRun.Id);
        await AssertVerifiesAsync(farm, downRun.Id);
    }

    private static Dictionary<string, string> Tagged(string tag) => new() { ["RMTC_Agent__Tags__0"] = tag, ["RMTC_Agent__Slots"] = "1" };

    /// <summary>Tells the directory what a registered agent would: it serves at <paramref name="address"/>, is in session, and ran a lease of <paramref name="digest"/>.</summary>
    private static void PretendHolds(PeerDirectory peers, string id, string address, string digest)
    {
        peers.Register(id, address, IPAddress.Loopback);
        peers.Online(id, true);
        peers.Name(id, "lease-of-" + id, [digest]);
        peers.Reported(id, "lease-of-" + id, "training");
    }

    private static async Task AssertVerifiesAsync(FarmFixture farm, string runId)
    {
        var verdict = await new LineageService.LineageServiceClient(farm.Channel).VerifyAsync(new LineageRunRequest { RunId = runId });
        Assert.True(verdict.Ok, string.Join("; ", verdict.Problems));
    }
}
