using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Execution.Transfers;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Weights;
using RMTC.Farm.Coordinator.DataPlane;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Protos.Client;
using RMTC.Farm.Protos.DataPlane;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.DataPlane;

/// <summary>
/// The coordinator's HTTP data plane on a real Kestrel (127.0.0.1), spoken by the agent's own client and by raw HTTP:
/// ranges, resumed fetches and uploads through a proxy that cuts the link midway, and the upload's fence and checks.
/// </summary>
public sealed class DataPlaneTests
{
    private const string Spec = "name: plane\nrecipe: classifier\ndataset: {0}\nshards: 1\nrounds: 1\nmax_retries: 5\n";

    [Fact]
    public async Task A_range_get_answers_the_bytes_asked_for_and_registration_names_the_data_plane()
    {
        await using var farm = await FarmFixture.StartAsync();
        var bytes = Weights(64 * 1024, out var digest);
        Assert.Equal(digest, farm.Artifacts.Put(bytes, ArtifactKind.Weights).Digest);
        var plane = farm.App.DataPlaneAddress()!;

        // What an agent learns when it registers: the data plane's port on the host it dialled.
        var agents = new AgentService.AgentServiceClient(farm.Channel);
        var welcome = await agents.RegisterAsync(new RegisterRequest { AgentId = "ranges", Hostname = "test", Slots = 1, Capacity = new Resources { Cores = 1, MemoryMib = 1024 } });
        Assert.Equal((uint)plane.Port, welcome.DataPlane.Port);
        Assert.False(welcome.DataPlane.Tls);

        using var http = new HttpClient { BaseAddress = plane };
        using (var ranged = new HttpRequestMessage(HttpMethod.Get, DataPlaneWire.ArtifactPath(digest)))
        {
            ranged.Headers.Range = new RangeHeaderValue(1000, 1999);
            using var response = await http.SendAsync(ranged);
            Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
            Assert.Equal($"bytes 1000-1999/{bytes.Length}", response.Content.Headers.ContentRange!.ToString());
            Assert.Equal(bytes.AsSpan(1000, 1000).ToArray(), await response.Content.ReadAsByteArrayAsync());
            Assert.Equal($"\"{digest}\"", response.Headers.ETag!.ToString());
        }

        using (var tail = new HttpRequestMessage(HttpMethod.Get, DataPlaneWire.ArtifactPath(digest)))
        {
            tail.Headers.Range = new RangeHeaderValue(bytes.Length - 10, null);
            using var response = await http.SendAsync(tail);
            Assert.Equal(bytes.AsSpan(bytes.Length - 10).ToArray(), await response.Content.ReadAsByteArrayAsync());
        }

        using (var past = new HttpRequestMessage(HttpMethod.Get, DataPlaneWire.ArtifactPath(digest)))
        {
            past.Headers.Range = new RangeHeaderValue(bytes.Length, null);
            using var response = await http.SendAsync(past);
            Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
            Assert.Equal($"bytes */{bytes.Length}", response.Content.Headers.ContentRange!.ToString());
        }

        Assert.Equal(bytes, await http.GetByteArrayAsync(DataPlaneWire.ArtifactPath(digest)));
        using (var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, DataPlaneWire.ArtifactPath(digest))))
        {
            Assert.Equal(bytes.Length, head.Content.Headers.ContentLength);
            Assert.Equal("bytes", head.Headers.AcceptRanges.Single());
        }

        using var missing = await http.GetAsync(DataPlaneWire.ArtifactPath(new string('0', 64)));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("no weights with digest 0000", await missing.Content.ReadAsStringAsync());
        using var malformed = await http.GetAsync("/artifacts/sha256/not-a-digest");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Contains("is not a sha256 digest", await malformed.Content.ReadAsStringAsync());

        // Only on its own port: the gRPC port knows nothing of it.
        using var grpcPort = new HttpClient(new SocketsHttpHandler()) { BaseAddress = new Uri(farm.Address), DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var elsewhere = await grpcPort.GetAsync(DataPlaneWire.ArtifactPath(digest));
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
    }

    [Fact]
    public async Task A_fetch_cut_halfway_resumes_from_the_bytes_kept_and_checks_the_digest()
    {
        await using var farm = await FarmFixture.StartAsync();
        var bytes = Weights(2 * 1024 * 1024, out var digest);
        farm.Artifacts.Put(bytes, ArtifactKind.Weights);
        await using var proxy = new CuttingProxy(farm.App.DataPlaneAddress()!, cutAfter: bytes.Length / 2, cutUpstream: false);
        using var plane = new DataPlaneClient(proxy.Address, FarmCredentials.None);
        var cache = Cache(farm.Root, "node");
        var recorded = new RecordingSource(plane);

        var path = await cache.GetAsync([recorded], digest, CancellationToken.None);

        Assert.True(proxy.Cut);
        Assert.Equal(2, proxy.Connections);
        Assert.Equal(digest, Sha256Digest.OfFile(path));
        // Resumed, not restarted: the second request asked only for what was missing (the reset also drops what was
        // still in flight, so the agent kept less than the proxy passed).
        Assert.Equal(2, recorded.Offsets.Count);
        Assert.Equal(0, recorded.Offsets[0]);
        Assert.InRange(recorded.Offsets[1], 1, bytes.Length / 2);
        Assert.True(proxy.ToClient < bytes.Length * 1.5, $"{proxy.ToClient} bytes crossed for a {bytes.Length}-byte file");
        Assert.False(File.Exists(path + ".part"));
    }

    [Fact]
    public async Task A_fetch_whose_kept_bytes_are_wrong_fails_the_digest_check_and_the_next_fetch_starts_afresh()
    {
        await using var farm = await FarmFixture.StartAsync();
        var bytes = Weights(256 * 1024, out var digest);
        farm.Artifacts.Put(bytes, ArtifactKind.Weights);
        using var plane = new DataPlaneClient(farm.App.DataPlaneAddress()!, FarmCredentials.None);
        var cache = Cache(farm.Root, "node");
        var part = Path.Combine(farm.Root, "node", "cache", "sha256", digest + ".safetensors.part");
        var kept = bytes[..1000];
        kept[10] ^= 0xff;
        await File.WriteAllBytesAsync(part, kept);

        var corrupt = await Assert.ThrowsAsync<InvalidDataException>(() => cache.GetAsync([plane], digest, CancellationToken.None));
        Assert.Contains($"weights {digest} arrived corrupt", corrupt.Message);
        Assert.False(File.Exists(part));
        Assert.Equal(digest, Sha256Digest.OfFile(await cache.GetAsync([plane], digest, CancellationToken.None)));
    }

    [Fact]
    public async Task An_upload_cut_halfway_resumes_from_the_coordinators_offset_and_is_accepted()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 30_000);
        var (session, lease) = await LeaseAsync(farm);
        using var _ = session;
        var result = Result(farm, lease, Path.Combine(farm.Root, "result.safetensors"), out var digest);
        var length = new FileInfo(result).Length;
        await using var proxy = new CuttingProxy(farm.App.DataPlaneAddress()!, cutAfter: length / 2, cutUpstream: true);
        using var plane = new DataPlaneClient(proxy.Address, FarmCredentials.None);
        var metadata = Metadata(lease);

        var cut = await Assert.ThrowsAnyAsync<Exception>(() => plane.UploadAsync(result, digest, metadata, resume: false, CancellationToken.None));
        Assert.True(cut is HttpRequestException or IOException, cut.ToString());
        Assert.True(proxy.Cut);

        // The coordinator holds what arrived before the cut, and says so.
        using var direct = new HttpClient { BaseAddress = farm.App.DataPlaneAddress() };
        long held = 0;
        await FarmFixture.WaitUntilAsync(() => (held = UploadOffset(direct, digest, metadata)) > 0, TimeSpan.FromSeconds(10), () => "the coordinator holds none of the cut upload");
        Assert.InRange(held, 1, length - 1);

        var beforeResume = proxy.ToServer;
        var (stored, duplicate) = await plane.UploadAsync(result, digest, metadata, resume: true, CancellationToken.None);
        Assert.Equal(digest, stored);
        Assert.False(duplicate);
        Assert.True(farm.Artifacts.Exists(digest));
        // The resume (an offset query, then a PUT with Content-Range) carried less than the whole body: no restart.
        Assert.True(proxy.ToServer - beforeResume < length, $"{proxy.ToServer - beforeResume} bytes crossed to resume a {length}-byte result of which {held} were held: it started over");
        await FarmFixture.WaitUntilAsync(() => farm.Scheduler.GetManifest(lease.RunId)!.Rounds[0].Attempts[0].Outcome == AttemptOutcomes.Succeeded, TimeSpan.FromSeconds(10), () => "the result was not taken");

        // Asked again (an answer lost on the way back), the coordinator answers the same without the bytes.
        var again = await plane.UploadAsync(result, digest, metadata, resume: true, CancellationToken.None);
        Assert.Equal(digest, again.Digest);
    }

    [Fact]
    public async Task An_upload_with_a_stale_lease_or_epoch_is_refused()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 30_000);
        var (session, lease) = await LeaseAsync(farm);
        using var _ = session;
        var result = Result(farm, lease, Path.Combine(farm.Root, "result.safetensors"), out var digest);
        using var plane = new DataPlaneClient(farm.App.DataPlaneAddress()!, FarmCredentials.None);

        var staleEpoch = await Assert.ThrowsAsync<RpcException>(() => plane.UploadAsync(result, digest, Metadata(lease) with { LeaseEpoch = lease.LeaseEpoch + 1 }, false, CancellationToken.None));
        Assert.Equal(StatusCode.FailedPrecondition, staleEpoch.StatusCode);
        Assert.Contains("stale", staleEpoch.Status.Detail);
        var unknownLease = await Assert.ThrowsAsync<RpcException>(() => plane.UploadAsync(result, digest, Metadata(lease) with { LeaseId = "no-such-lease" }, false, CancellationToken.None));
        Assert.Equal(StatusCode.FailedPrecondition, unknownLease.StatusCode);
        Assert.False(farm.Artifacts.Exists(digest));

        // On the wire: 409 and the verdict, before any byte of the body was asked for.
        using var http = new HttpClient { BaseAddress = farm.App.DataPlaneAddress() };
        using var request = Put(digest, Metadata(lease) with { LeaseEpoch = lease.LeaseEpoch + 7 }, await File.ReadAllBytesAsync(result));
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        var answer = JsonSerializer.Deserialize<DataPlaneAnswer>(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(DataPlaneAnswer.Stale, answer.Verdict);
        Assert.False(farm.Artifacts.Exists(digest));

        // The current lease and epoch are taken.
        Assert.Equal(digest, (await plane.UploadAsync(result, digest, Metadata(lease), false, CancellationToken.None)).Digest);
    }

    [Fact]
    public async Task An_upload_whose_values_are_not_finite_or_whose_digest_differs_is_refused_with_the_reason()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 30_000);
        var (session, lease) = await LeaseAsync(farm);
        using var _ = session;
        using var http = new HttpClient { BaseAddress = farm.App.DataPlaneAddress() };

        var (tensors, _) = farm.Artifacts.ReadWeights(lease.GlobalWeightsDigest);
        var first = tensors.First(t => t.DType == TensorDType.F32);
        MemoryMarshal.Cast<byte, float>(first.Data.AsSpan())[0] = float.NaN;
        var nanPath = Path.Combine(farm.Root, "nan.safetensors");
        var nanDigest = Safetensors.WriteFile(nanPath, tensors);
        using (var response = await http.SendAsync(Put(nanDigest, Metadata(lease), await File.ReadAllBytesAsync(nanPath))))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
            var answer = JsonSerializer.Deserialize<DataPlaneAnswer>(await response.Content.ReadAsStringAsync())!;
            Assert.Equal("rejected", answer.Verdict);
            Assert.Contains("result refused", answer.Reason);
            Assert.Contains("finite", answer.Reason);
        }

        // The shard went back to the queue: the next lease is another epoch.
        lease = await NextAssignmentAsync(session);
        var result = Result(farm, lease, Path.Combine(farm.Root, "result.safetensors"), out var digest);
        var bytes = await File.ReadAllBytesAsync(result);
        var claimed = Sha256Digest.OfBytes([1, 2, 3]);
        using (var response = await http.SendAsync(Put(claimed, Metadata(lease), bytes)))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
            var answer = JsonSerializer.Deserialize<DataPlaneAnswer>(await response.Content.ReadAsStringAsync())!;
            Assert.Equal("corrupt", answer.Verdict);
            Assert.Contains($"header says {bytes.Length} bytes with sha256 {claimed}, received {bytes.Length} bytes hashing to {digest}", answer.Reason);
        }

        Assert.False(farm.Artifacts.Exists(claimed));
        Assert.False(farm.Artifacts.Exists(digest));
        using var noHeader = new HttpRequestMessage(HttpMethod.Put, DataPlaneWire.ArtifactPath(digest)) { Content = new ByteArrayContent(bytes) };
        using var refused = await http.SendAsync(noHeader);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("an upload needs the Rmtc-Upload header", await refused.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_run_with_agents_on_the_data_plane_completes_and_without_one_over_grpc()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 40);
        var agents = await farm.StartAgentsAsync(2);
        var job = await farm.SubmitAsync($"name: plane\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 2\nlocal: {{ epochs: 1, batch_size: 8 }}\n");
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));
        Assert.True(done.State == JobState.Succeeded, string.Join("\n", agents.Select(a => a.Output)));
        var output = string.Join("\n", agents.Select(a => a.Output));
        Assert.Contains($"weights over data plane {farm.App.DataPlaneAddress()}", output);
        Assert.Contains($"uploaded", output);
        Assert.Matches(@"result [0-9a-f]{64} uploaded \(\d+ bytes, duplicate: \w+\) over data plane", output);
        Assert.DoesNotContain("over gRPC", output);

        // The same farm with its data plane off: the agents are told of none, and move weights over gRPC.
        await using var old = await FarmFixture.StartAsync(dataPlanePort: -1);
        var oldAgents = await old.StartAgentsAsync(1);
        var oldJob = await old.SubmitAsync($"name: grpc\nrecipe: classifier\ndataset: {old.Synthesize("classifier", 40)}\nshards: 1\nrounds: 1\nlocal: {{ epochs: 1, batch_size: 8 }}\n");
        Assert.Equal(JobState.Succeeded, (await old.WaitAsync(oldJob.Id, TimeSpan.FromMinutes(3))).State);
        Assert.Null(old.App.DataPlaneAddress());
        Assert.Contains("weights over gRPC", oldAgents[0].Output);
        Assert.Contains("over gRPC", oldAgents[0].Output);
    }

    /// <summary>A source that notes the offset of every request it passes on.</summary>
    private sealed class RecordingSource(IArtifactSource inner) : IArtifactSource
    {
        public List<long> Offsets { get; } = [];

        public string Name => inner.Name;

        public Task CopyToAsync(string digest, ArtifactType type, long offset, Stream destination, CancellationToken cancellationToken)
        {
            Offsets.Add(offset);
            return inner.CopyToAsync(digest, type, offset, destination, cancellationToken);
        }
    }

    private static WeightsCache Cache(string root, string node) =>
        new(Options.Create(new AgentOptions { WorkDirectory = Path.Combine(root, node) }), TimeProvider.System, NullLogger<WeightsCache>.Instance);

    /// <summary>A safetensors file of <paramref name="floats"/> finite values, and its digest.</summary>
    internal static byte[] Weights(int floats, out string digest)
    {
        var data = new byte[floats * sizeof(float)];
        var values = MemoryMarshal.Cast<byte, float>(data.AsSpan());
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = i * 0.001f;
        }

        using var stream = new MemoryStream();
        Safetensors.Write(stream, [new NamedTensor("w", TensorDType.F32, [floats], data)]);
        var bytes = stream.ToArray();
        digest = Sha256Digest.OfBytes(bytes);
        return bytes;
    }

    /// <summary>A result the run can take: its global weights, nudged so the content is new to the store.</summary>
    private static string Result(FarmFixture farm, Assignment lease, string path, out string digest)
    {
        var (tensors, _) = farm.Artifacts.ReadWeights(lease.GlobalWeightsDigest);
        var first = tensors.First(t => t.DType == TensorDType.F32);
        MemoryMarshal.Cast<byte, float>(first.Data.AsSpan())[0] += 0.25f;
        digest = Safetensors.WriteFile(path, tensors);
        return path;
    }

    private static UploadMetadata Metadata(Assignment lease) =>
        new() { LeaseId = lease.LeaseId, LeaseEpoch = lease.LeaseEpoch, AgentId = "plane", Samples = 40, FinalLoss = 0.5, EpochLosses = [0.5], TrainSeconds = 1, Device = "cpu" };

    private static long UploadOffset(HttpClient http, string digest, UploadMetadata metadata)
    {
        using var head = new HttpRequestMessage(HttpMethod.Head, DataPlaneWire.ArtifactPath(digest));
        head.Headers.Add(DataPlaneWire.UploadHeader, JsonSerializer.Serialize(metadata));
        using var response = http.Send(head);
        return long.Parse(response.Headers.GetValues(DataPlaneWire.UploadOffsetHeader).Single(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static HttpRequestMessage Put(string digest, UploadMetadata metadata, byte[] bytes)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, DataPlaneWire.ArtifactPath(digest)) { Content = new ByteArrayContent(bytes) };
        request.Headers.Add(DataPlaneWire.UploadHeader, JsonSerializer.Serialize(metadata));
        return request;
    }

    /// <summary>Plays an agent over gRPC until it holds a lease of a one-shard run.</summary>
    private static async Task<(AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage> Session, Assignment Lease)> LeaseAsync(FarmFixture farm)
    {
        var data = farm.Synthesize("classifier", 40);
        await farm.SubmitPreparedAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, Spec, data));
        var agents = new AgentService.AgentServiceClient(farm.Channel);
        var registration = await agents.RegisterAsync(new RegisterRequest { AgentId = "plane", Hostname = "test", Slots = 1, Capacity = new Resources { Cores = 1, MemoryMib = 1024 } });
        var session = agents.Session();
        await session.RequestStream.WriteAsync(new AgentMessage { Hello = new Hello { AgentId = "plane", SessionToken = registration.SessionToken } });
        return (session, await NextAssignmentAsync(session));
    }

    private static async Task<Assignment> NextAssignmentAsync(AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage> session)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (await session.ResponseStream.MoveNext(timeout.Token))
        {
            if (session.ResponseStream.Current.KindCase == CoordinatorMessage.KindOneofCase.Assign)
            {
                return session.ResponseStream.Current.Assign;
            }
        }

        throw new InvalidOperationException("the session ended without an assignment");
    }
}
