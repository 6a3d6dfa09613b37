using Google.Protobuf;
using Grpc.Core;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>The coordinator's wire contract, driven by a hand-rolled agent over real gRPC on loopback.</summary>
public sealed class ProtocolTests
{
    private const string Spec = """
        name: proto
        recipe: classifier
        dataset: {0}
        shards: 1
        rounds: 1
        """;

    [Fact]
    public async Task Upload_with_a_stale_lease_epoch_is_refused_and_recorded()
    {
        // The lease timeout leaves room for a loaded 2-core machine: at 600 ms the second lease once expired too before its first heartbeat.
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 1500, heartbeatMs: 100);
        var data = farm.Synthesize("classifier", 40);
        var agents = new AgentService.AgentServiceClient(farm.Channel);
        var job = await farm.SubmitPreparedAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, Spec, data));

        // First session: take the lease, then go silent so it expires.
        var first = await TakeLeaseAsync(agents, "silent-agent");
        await FarmFixture.WaitUntilAsync(
            () => farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts.Any(a => a.Outcome == AttemptOutcomes.Expired),
            TimeSpan.FromSeconds(15), () => "the lease never expired");

        // Second session: the shard is leased again with a higher epoch, and this time the agent keeps heartbeating.
        var (second, session) = await TakeLeaseWithSessionAsync(agents, "silent-agent");
        using var alive = new CancellationTokenSource();
        var heartbeats = KeepAliveAsync(session, second, alive.Token);
        Assert.True(second.LeaseEpoch > first.LeaseEpoch);

        // The late result of the first lease arrives: refused.
        var bytes = farm.Artifacts.ReadAllBytes(first.GlobalWeightsDigest);
        var error = await Assert.ThrowsAsync<RpcException>(() => UploadAsync(agents, "silent-agent", first, bytes));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("not active", error.Status.Detail);

        // A corrupt upload (bytes that do not match the declared digest) of the current lease is refused too.
        var corrupt = await Assert.ThrowsAsync<RpcException>(() => UploadAsync(agents, "silent-agent", second, bytes, digestOverride: Sha256Digest.OfBytes([1, 2, 3])));
        Assert.Equal(StatusCode.DataLoss, corrupt.StatusCode);
        var manifest = farm.Scheduler.GetManifest(job.Id)!;
        Assert.Contains(manifest.Rounds[0].Attempts, a => a.Outcome == AttemptOutcomes.Refused && a.Error!.Contains("corrupt"));
        await alive.CancelAsync();
        await heartbeats;
    }

    /// <summary>Heartbeats that report the lease as running, as a live agent's do.</summary>
    private static async Task KeepAliveAsync(AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage> session, Assignment lease, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var heartbeat = new Heartbeat();
                heartbeat.Running.Add(new ShardProgress { LeaseId = lease.LeaseId, LeaseEpoch = lease.LeaseEpoch, Phase = "training" });
                await session.RequestStream.WriteAsync(new AgentMessage { Heartbeat = heartbeat }, ct);
                await Task.Delay(100, ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException or InvalidOperationException)
        {
        }
    }

    [Fact]
    public async Task A_repeated_upload_of_the_same_result_is_answered_as_a_duplicate_and_merged_once()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 5000, heartbeatMs: 100);
        var data = farm.Synthesize("classifier", 40);
        var agents = new AgentService.AgentServiceClient(farm.Channel);
        var job = await farm.SubmitPreparedAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, Spec, data));
        var lease = await TakeLeaseAsync(agents, "twice-agent");
        var bytes = farm.Artifacts.ReadAllBytes(lease.GlobalWeightsDigest);

        var first = await UploadAsync(agents, "twice-agent", lease, bytes);
        var second = await UploadAsync(agents, "twice-agent", lease, bytes);
        Assert.False(first.Duplicate);
        Assert.True(second.Duplicate);
        Assert.Equal(first.Digest, second.Digest);

        var done = await farm.WaitAsync(job.Id, TimeSpan.FromSeconds(30));
        Assert.Equal(JobState.Succeeded, done.State);
        var round = farm.Scheduler.GetManifest(job.Id)!.Rounds[0];
        Assert.Single(round.MergedResults);
        Assert.Single(round.Attempts, a => a.Outcome == AttemptOutcomes.Succeeded);
    }

    [Fact]
    public async Task Result_with_NaN_weights_is_refused_and_never_merged()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 5000, heartbeatMs: 100);
        var data = farm.Synthesize("classifier", 40);
        var agents = new AgentService.AgentServiceClient(farm.Channel);
        var job = await farm.SubmitPreparedAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, Spec, data));
        var lease = await TakeLeaseAsync(agents, "nan-agent");

        var global = farm.Artifacts.ReadWeights(lease.GlobalWeightsDigest).Tensors;
        global[0].AsFloat32()[0] = float.NaN;
        using var poisoned = new MemoryStream();
        RMTC.Farm.Core.Weights.Safetensors.Write(poisoned, global);

        var error = await Assert.ThrowsAsync<RpcException>(() => UploadAsync(agents, "nan-agent", lease, poisoned.ToArray()));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("non-finite", error.Status.Detail, StringComparison.OrdinalIgnoreCase);
        var attempts = farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts;
        Assert.Equal(AttemptOutcomes.Refused, attempts[0].Outcome);
        Assert.Contains("conv1", attempts[0].Error);

        // The shard goes back to the queue and is leased again (to the only agent there is).
        Assert.Equal(2, attempts.Count);
        Assert.Equal(AttemptOutcomes.Running, attempts[1].Outcome);
        Assert.Empty(farm.Scheduler.GetManifest(job.Id)!.Rounds[0].MergedResults);
    }

    [Theory]
    [InlineData("name", "conv1")]
    [InlineData("shape", "shape")]
    [InlineData("dtype", "dtype")]
    [InlineData("missing", "missing")]
    public async Task A_result_with_wrong_tensor_names_shapes_or_dtypes_is_refused_naming_the_tensor_and_the_run_carries_on(string fault, string named)
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 5000, heartbeatMs: 100);
        var data = farm.Synthesize("classifier", 40);
        var agents = new AgentService.AgentServiceClient(farm.Channel);
        var job = await farm.SubmitPreparedAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, Spec, data));
        var (lease, session) = await TakeLeaseWithSessionAsync(agents, "odd-agent");

        var global = farm.Artifacts.ReadWeights(lease.GlobalWeightsDigest).Tensors.ToList();
        var first = global[0];
        global[0] = fault switch
        {
            "name" => new RMTC.Farm.Core.Weights.NamedTensor(first.Name + "_renamed", first.DType, first.Shape, first.Data),
            "shape" => new RMTC.Farm.Core.Weights.NamedTensor(first.Name, first.DType, [1, first.ElementCount], first.Data),
            "dtype" => new RMTC.Farm.Core.Weights.NamedTensor(first.Name, RMTC.Farm.Core.Weights.TensorDType.I32, first.Shape, first.Data),
            _ => global[0],
        };
        if (fault == "missing")
        {
            global.RemoveAt(0);
        }

        using var odd = new MemoryStream();
        RMTC.Farm.Core.Weights.Safetensors.Write(odd, global);
        var error = await Assert.ThrowsAsync<RpcException>(() => UploadAsync(agents, "odd-agent", lease, odd.ToArray()));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(named, error.Status.Detail, StringComparison.OrdinalIgnoreCase);

        // Recorded as refused, never merged; the shard is leased again and a good result still completes the run.
        var round = farm.Scheduler.GetManifest(job.Id)!.Rounds[0];
        Assert.Equal(AttemptOutcomes.Refused, round.Attempts[0].Outcome);
        Assert.Empty(round.MergedResults);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        Assert.True(await session.ResponseStream.MoveNext(timeout.Token));
        var again = session.ResponseStream.Current.Assign;
        Assert.Equal(lease.Shard, again.Shard);
        await UploadAsync(agents, "odd-agent", again, farm.Artifacts.ReadAllBytes(again.GlobalWeightsDigest));
        Assert.Equal(JobState.Succeeded, (await farm.WaitAsync(job.Id, TimeSpan.FromSeconds(30))).State);
        session.Dispose();
    }

    [Fact]
    public async Task Invalid_job_spec_is_refused_with_the_field_named_and_nothing_is_scheduled()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 20);
        var error = await Assert.ThrowsAsync<RpcException>(() => farm.SubmitAsync($"""
            name: bad
            recipe: classifier
            dataset: {data}
            shards: three
            roundz: 2
            """));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("shards", error.Status.Detail);
        Assert.Contains("whole number", error.Status.Detail);
        Assert.Contains("unknown field 'roundz'", error.Status.Detail);

        var tooMany = await Assert.ThrowsAsync<RpcException>(() => farm.SubmitAsync($"""
            name: bad
            recipe: classifier
            dataset: {data}
            shards: 50
            """));
        Assert.Contains("at most 20 shards", tooMany.Status.Detail);

        var missing = await Assert.ThrowsAsync<RpcException>(() => farm.SubmitAsync("""
            name: bad
            recipe: classifier
            dataset: /nowhere/at/all
            """));
        Assert.Contains("dataset", missing.Status.Detail);
        Assert.Empty((await farm.Jobs.ListJobsAsync(new ListJobsRequest())).Jobs);
    }

    private static async Task<Assignment> TakeLeaseAsync(AgentService.AgentServiceClient agents, string id) =>
        (await TakeLeaseWithSessionAsync(agents, id)).Lease;

    private static async Task<(Assignment Lease, AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage> Session)> TakeLeaseWithSessionAsync(AgentService.AgentServiceClient agents, string id)
    {
        var registration = await agents.RegisterAsync(new RegisterRequest { AgentId = id, Hostname = "test", Slots = 1, Capacity = new Resources { Cores = 1, MemoryMib = 1024 } });
        var session = agents.Session();
        await session.RequestStream.WriteAsync(new AgentMessage { Hello = new Hello { AgentId = id, SessionToken = registration.SessionToken } });
        await session.RequestStream.WriteAsync(new AgentMessage { Heartbeat = new Heartbeat() });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        Assert.True(await session.ResponseStream.MoveNext(timeout.Token));
        return (session.ResponseStream.Current.Assign, session);
    }

    private static async Task<UploadResultResponse> UploadAsync(AgentService.AgentServiceClient agents, string agentId, Assignment lease, byte[] bytes, string? digestOverride = null)
    {
        var header = new UploadHeader
        {
            LeaseId = lease.LeaseId,
            LeaseEpoch = lease.LeaseEpoch,
            AgentId = agentId,
            Digest = digestOverride ?? Sha256Digest.OfBytes(bytes),
            TotalBytes = (ulong)bytes.Length,
            Samples = (ulong)lease.SampleIndices.Count,
            FinalLoss = 1,
        };
        return await RawUpload.SendAsync(agents, header, bytes);
    }
}
