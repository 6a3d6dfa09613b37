using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Execution.Transfers;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Weights;
using RMTC.Farm.Coordinator.DataPlane;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Protos.Client;
using RMTC.Farm.Protos.DataPlane;

namespace RMTC.Farm.Integration.Tests.PeerFetch;

/// <summary>
/// An agent's weights cache fetching with a peer at the head of its sources, against the coordinator's real data plane,
/// a real <see cref="PeerCacheServer"/> (an agent's cache served on 127.0.0.1), and fake peers that serve wrong bytes,
/// are down, or never answer.
/// </summary>
public sealed class PeerSourceTests
{
    [Fact]
    public async Task Weights_come_from_a_peer_agents_cache_with_ranges_and_the_farm_token_and_not_from_the_coordinator()
    {
        await using var farm = await FarmFixture.StartAsync();
        var bytes = DataPlane.DataPlaneTests.Weights(64 * 1024, out var digest);
        farm.Artifacts.Put(bytes, ArtifactKind.Weights);
        var tokenFile = Path.Combine(farm.Root, "farm-token");
        await File.WriteAllTextAsync(tokenFile, "peer-test-token\n");
        using var plane = new DataPlaneClient(farm.App.DataPlaneAddress()!, FarmCredentials.None);

        // Node A fetched the weights from the coordinator and serves its cache.
        var nodeA = Options("a", farm.Root, tokenFile);
        var servedA = new TransferCounters();
        var cacheA = new WeightsCache(nodeA, TimeProvider.System, NullLogger<WeightsCache>.Instance, servedA);
        await cacheA.GetAsync([plane], digest, CancellationToken.None);
        await using var server = new PeerCacheServer(cacheA, servedA, nodeA, TimeProvider.System, NullLogger<PeerCacheServer>.Instance);
        await server.StartAsync(CancellationToken.None);
        var advertised = await server.AdvertisedAsync;
        Assert.NotNull(advertised);
        Assert.Matches(@"^http://127\.0\.0\.1:\d+$", advertised);

        // Node B is named A: every byte comes from A, none from the coordinator.
        var nodeB = Options("b", farm.Root, tokenFile);
        var countedB = new TransferCounters();
        var cacheB = new WeightsCache(nodeB, TimeProvider.System, NullLogger<WeightsCache>.Instance, countedB);
        using var links = new PeerLinks(nodeB, NullLogger<PeerLinks>.Instance);
        var path = await cacheB.GetAsync([links.For(advertised, "lease")!, plane], digest, CancellationToken.None);
        Assert.Equal(digest, Sha256Digest.OfFile(path));
        Assert.Equal(bytes.Length, countedB.FromPeers);
        Assert.Equal(0, countedB.FromCoordinator);
        Assert.Equal(bytes.Length, servedA.ServedToPeers);

        // The peer speaks the data plane's requests: ranges, HEAD, 404 for what it does not hold, 401 without the token.
        using var http = new HttpClient { BaseAddress = new Uri(advertised) };
        using (var anonymous = await http.GetAsync(DataPlaneWire.ArtifactPath(digest)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Contains("farm token", await anonymous.Content.ReadAsStringAsync());
        }

        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "peer-test-token");
        using (var ranged = new HttpRequestMessage(HttpMethod.Get, DataPlaneWire.ArtifactPath(digest)))
        {
            ranged.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(1000, null);
            using var response = await http.SendAsync(ranged);
            Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
            Assert.Equal($"bytes 1000-{bytes.Length - 1}/{bytes.Length}", response.Content.Headers.ContentRange!.ToString());
            Assert.Equal(bytes.AsSpan(1000).ToArray(), await response.Content.ReadAsByteArrayAsync());
        }

        using (var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, DataPlaneWire.ArtifactPath(digest))))
        {
            Assert.Equal(bytes.Length, head.Content.Headers.ContentLength);
        }

        using (var missing = await http.GetAsync(DataPlaneWire.ArtifactPath(new string('0', 64))))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Contains("this agent holds no weights with digest 0000", await missing.Content.ReadAsStringAsync());
        }

        using (var put = await http.PutAsync(DataPlaneWire.ArtifactPath(digest), new ByteArrayContent([1])))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, put.StatusCode);
        }
    }

    [Fact]
    public async Task A_peer_serving_bytes_of_another_digest_is_refused_and_the_coordinator_serves_the_weights()
    {
        await using var farm = await FarmFixture.StartAsync();
        var bytes = DataPlane.DataPlaneTests.Weights(64 * 1024, out var digest);
        farm.Artifacts.Put(bytes, ArtifactKind.Weights);
        var wrong = bytes.ToArray();
        wrong[^1] ^= 0x01;
        await using var fake = new WrongBytesPeer(wrong);
        using var plane = new DataPlaneClient(farm.App.DataPlaneAddress()!, FarmCredentials.None);
        var counted = new TransferCounters();
        var node = Options("node", farm.Root);
        var cache = new WeightsCache(node, TimeProvider.System, NullLogger<WeightsCache>.Instance, counted);
        using var links = new PeerLinks(node, NullLogger<PeerLinks>.Instance);

        var path = await cache.GetAsync([links.For(fake.Address, "lease")!, plane], digest, CancellationToken.None);

        Assert.Equal(digest, Sha256Digest.OfFile(path));
        Assert.Equal(1, fake.Requests);
        Assert.Equal(1, counted.PeerRefusals);
        Assert.Equal(bytes.Length, counted.FromPeers);
        // The wrong bytes were thrown away, not resumed from: the coordinator sent the whole file.
        Assert.Equal(bytes.Length, counted.FromCoordinator);

        // With no other source, the wrong bytes are an error as before, and nothing is kept.
        var alone = new WeightsCache(Options("alone", farm.Root), TimeProvider.System, NullLogger<WeightsCache>.Instance);
        var corrupt = await Assert.ThrowsAsync<InvalidDataException>(() => alone.GetAsync([links.For(fake.Address, "lease")!], digest, CancellationToken.None));
        Assert.Contains($"weights {digest} arrived corrupt", corrupt.Message);
        Assert.Null(alone.Held(digest));
        Assert.Empty(Directory.GetFiles(Path.Combine(farm.Root, "alone", "cache", "sha256")));
    }

    [Fact]
    public async Task A_peer_that_is_down_or_silent_is_given_up_at_once_or_after_its_timeout()
    {
        await using var farm = await FarmFixture.StartAsync();
        var bytes = DataPlane.DataPlaneTests.Weights(16 * 1024, out var digest);
        farm.Artifacts.Put(bytes, ArtifactKind.Weights);
        using var plane = new DataPlaneClient(farm.App.DataPlaneAddress()!, FarmCredentials.None);
        var counted = new TransferCounters();
        var node = Options("node", farm.Root, timeoutMs: 400);
        using var links = new PeerLinks(node, NullLogger<PeerLinks>.Instance);

        var down = new WeightsCache(node, TimeProvider.System, NullLogger<WeightsCache>.Instance, counted);
        var clock = Stopwatch.StartNew();
        Assert.Equal(digest, Sha256Digest.OfFile(await down.GetAsync([links.For(DownPeer.Address(), "lease")!, plane], digest, CancellationToken.None)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"a refused connection took {clock.Elapsed}");
        Assert.Equal(1, counted.PeerRefusals);

        using var silent = new SilentPeer();
        var hung = new WeightsCache(Options("hung", farm.Root, timeoutMs: 400), TimeProvider.System, NullLogger<WeightsCache>.Instance, counted);
        clock.Restart();
        Assert.Equal(digest, Sha256Digest.OfFile(await hung.GetAsync([links.For(silent.Address, "lease")!, plane], digest, CancellationToken.None)));
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(350), TimeSpan.FromSeconds(5));
        Assert.Equal(2, counted.PeerRefusals);
        Assert.Equal(0, counted.FromPeers);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_peer_still_fetching_relays_the_bytes_as_they_arrive_and_a_relay_of_wrong_bytes_is_cut(bool wrongBytes)
    {
        await using var farm = await FarmFixture.StartAsync();
        var bytes = DataPlane.DataPlaneTests.Weights(256 * 1024, out var digest);
        farm.Artifacts.Put(bytes, ArtifactKind.Weights);
        using var plane = new DataPlaneClient(farm.App.DataPlaneAddress()!, FarmCredentials.None);
        var served = bytes.ToArray();
        if (wrongBytes)
        {
            served[^1] ^= 0x01;
        }

        // Node A is half-way through its own fetch, held there by its source, when node B asks it.
        var nodeA = Options("a", farm.Root);
        var countedA = new TransferCounters();
        var cacheA = new WeightsCache(nodeA, TimeProvider.System, NullLogger<WeightsCache>.Instance, countedA);
        await using var server = new PeerCacheServer(cacheA, countedA, nodeA, TimeProvider.System, NullLogger<PeerCacheServer>.Instance);
        await server.StartAsync(CancellationToken.None);
        var gated = new GatedSource(served);
        var fetchA = cacheA.GetAsync([gated], digest, CancellationToken.None);
        await FarmFixture.WaitUntilAsync(() => cacheA.Fetching(digest) is { } f && f.Written >= served.Length / 2, TimeSpan.FromSeconds(10), () => "node A did not start fetching");

        var nodeB = Options("b", farm.Root);
        var countedB = new TransferCounters();
        var cacheB = new WeightsCache(nodeB, TimeProvider.System, NullLogger<WeightsCache>.Instance, countedB);
        using var links = new PeerLinks(nodeB, NullLogger<PeerLinks>.Instance);
        var fetchB = cacheB.GetAsync([links.For((await server.AdvertisedAsync)!, "lease")!, plane], digest, CancellationToken.None);
        var partB = Path.Combine(farm.Root, "b", "cache", "sha256", digest + ".safetensors.part");
        await FarmFixture.WaitUntilAsync(() => File.Exists(partB) && new FileInfo(partB).Length >= served.Length / 2, TimeSpan.FromSeconds(10), () => "node B received nothing relayed");
        gated.Release();

        Assert.Equal(digest, Sha256Digest.OfFile(await fetchB));
        if (wrongBytes)
        {
            // A threw its bytes away when they did not hash to the digest, which cut the relay; B started afresh from the coordinator.
            await Assert.ThrowsAsync<InvalidDataException>(() => fetchA);
            Assert.Equal(1, countedB.PeerRefusals);
            Assert.Equal(bytes.Length, countedB.FromCoordinator);
            Assert.Null(cacheA.Held(digest));
        }
        else
        {
            Assert.Equal(digest, Sha256Digest.OfFile(await fetchA));
            Assert.Equal(bytes.Length, countedB.FromPeers);
            Assert.Equal(0, countedB.FromCoordinator);
            Assert.Equal(bytes.Length, countedA.ServedToPeers);
        }
    }

    [Fact]
    public void Peer_settings_are_checked_and_a_peer_is_not_sent_the_token_in_clear_on_a_tls_farm()
    {
        var bad = new PeerDataPlaneOptions { Port = 70000, ListenAddress = "node7", TimeoutMs = 5 };
        var problems = bad.Problems().ToList();
        Assert.Contains(problems, p => p.Contains("Agent:PeerDataPlane:Port is 70000", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Agent:PeerDataPlane:ListenAddress 'node7' is not an IP address", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Agent:PeerDataPlane:TimeoutMs is 5", StringComparison.Ordinal));
        Assert.Empty(new PeerDataPlaneOptions().Problems());

        var tls = new AgentOptions { Coordinator = "https://coordinator.farm:7460", PeerDataPlane = { ListenAddress = "0.0.0.0" } };
        Assert.Contains("would cross the network in clear", PeerCacheServer.WhyNotServing(tls, "token"));
        tls.PeerDataPlane.ListenAddress = "127.0.0.1";
        Assert.Null(PeerCacheServer.WhyNotServing(tls, "token"));
        var certificateOnly = new AgentOptions { ClientCertificatePath = "/etc/rmtc/agent.pem" };
        Assert.Contains("client certificate only", PeerCacheServer.WhyNotServing(certificateOnly, null));

        using var links = new PeerLinks(Microsoft.Extensions.Options.Options.Create(tls), NullLogger<PeerLinks>.Instance);
        Assert.Null(links.For("http://10.20.0.8:7462", "lease"));
        Assert.NotNull(links.For("http://127.0.0.1:7462", "lease"));
        Assert.Null(links.For("", "lease"));
    }

    /// <summary>A source that sends the first half of its bytes at once and the rest when released.</summary>
    private sealed class GatedSource(byte[] bytes) : IArtifactSource
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "gated test source";

        public void Release() => _gate.TrySetResult();

        public async Task CopyToAsync(string digest, RMTC.Farm.Protos.V1.ArtifactType type, long offset, Stream destination, CancellationToken cancellationToken)
        {
            var half = bytes.Length / 2;
            if (offset < half)
            {
                await destination.WriteAsync(bytes.AsMemory((int)offset, half - (int)offset), cancellationToken);
                offset = half;
            }

            await _gate.Task.WaitAsync(cancellationToken);
            await destination.WriteAsync(bytes.AsMemory((int)offset), cancellationToken);
        }
    }

    private static IOptions<AgentOptions> Options(string node, string root, string? tokenFile = null, int timeoutMs = 5000) =>
        Microsoft.Extensions.Options.Options.Create(new AgentOptions
        {
            WorkDirectory = Path.Combine(root, node),
            TokenFile = tokenFile,
            PeerDataPlane = { Port = 0, ListenAddress = "127.0.0.1", TimeoutMs = timeoutMs },
        });
}
