using Google.Protobuf;
using Grpc.Core;
using RMTC.Farm.Coordinator.Services.Wire;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.Security;

/// <summary>The farm token agents present, TLS with the farm CA, upload size limits, and a real agent over both.</summary>
public sealed class AgentAuthTests
{
    private static RegisterRequest Registration(string id) =>
        new() { AgentId = id, Hostname = "test", Slots = 1, Capacity = new Resources { Cores = 1, MemoryMib = 1024 } };

    [Fact]
    public async Task An_agent_without_the_farm_token_or_with_a_wrong_one_cannot_register_or_upload()
    {
        await using var farm = await SecureFarm.StartAsync();
        foreach (var token in new[] { null, "wrong-farm-token-0123456789", SecureFarm.AliceToken })
        {
            var agents = new AgentService.AgentServiceClient(farm.Channel(token));
            var register = await Assert.ThrowsAsync<RpcException>(() => agents.RegisterAsync(Registration("intruder")).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, register.StatusCode);

            using var upload = agents.UploadResult();
            try
            {
                await upload.RequestStream.WriteAsync(new UploadResultRequest { Header = new UploadHeader { LeaseId = "l", AgentId = "intruder", Digest = Sha256Digest.OfBytes([1]), TotalBytes = 1 } });
                await upload.RequestStream.WriteAsync(new UploadResultRequest { Chunk = ByteString.CopyFrom([1]) });
                await upload.RequestStream.CompleteAsync();
            }
            catch (Exception e) when (e is InvalidOperationException or RpcException)
            {
                // The coordinator answered before the stream was written out; its status is the response's.
            }

            var refused = await Assert.ThrowsAsync<RpcException>(() => upload.ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);

            var fetch = agents.FetchWeights(new FetchWeightsRequest { Digest = new string('a', 64) });
            var fetched = await Assert.ThrowsAsync<RpcException>(() => fetch.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.Unauthenticated, fetched.StatusCode);
        }

        Assert.Equal(0, farm.Scheduler.ConnectedAgents);
        var good = new AgentService.AgentServiceClient(farm.Channel(SecureFarm.FarmToken));
        Assert.NotEmpty((await good.RegisterAsync(Registration("good-agent"))).SessionToken);
    }

    [Fact]
    public async Task With_mutual_tls_an_agent_certificate_of_the_farm_ca_replaces_the_token_and_another_cas_is_refused()
    {
        // No farm token: agents authenticate by certificates the farm CA signed (here the same CA as the server's).
        await using var secured = await SecureFarm.StartAsync(new Dictionary<string, string?> { ["Coordinator:AgentTokenFile"] = null, ["Coordinator:Tls:AgentCaPath"] = SecureFarm.CaPlaceholder });
        var certificates = secured.Certificates;
        var other = TestCertificates.Create(Path.Combine(secured.Root, "other"), "other");

        var withCertificate = new AgentService.AgentServiceClient(secured.Channel(new Protos.Client.FarmCredentials(null, certificates.CaFile, certificates.AgentCertificateFile, certificates.AgentKeyFile)));
        Assert.NotEmpty((await withCertificate.RegisterAsync(Registration("mtls-agent"))).SessionToken);

        var withoutCertificate = new AgentService.AgentServiceClient(secured.Channel(token: null));
        var refused = await Assert.ThrowsAsync<RpcException>(() => withoutCertificate.RegisterAsync(Registration("anonymous")).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Contains("client certificate", refused.Status.Detail);

        var otherCa = new AgentService.AgentServiceClient(secured.Channel(new Protos.Client.FarmCredentials(null, certificates.CaFile, other.AgentCertificateFile, other.AgentKeyFile)));
        var handshake = await Assert.ThrowsAsync<RpcException>(() => otherCa.RegisterAsync(Registration("impostor")).ResponseAsync);
        Assert.NotEqual(StatusCode.OK, handshake.StatusCode);

        // A client certificate is an agent's credential only: wranglers still need their tokens.
        var asWrangler = new JobService.JobServiceClient(secured.Channel(new Protos.Client.FarmCredentials(null, certificates.CaFile, certificates.AgentCertificateFile, certificates.AgentKeyFile)));
        var wrangler = await Assert.ThrowsAsync<RpcException>(() => asWrangler.ListJobsAsync(new ListJobsRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, wrangler.StatusCode);
    }

    [Fact]
    public async Task A_client_trusting_the_farm_ca_connects_and_one_that_does_not_is_refused_by_tls()
    {
        await using var farm = await SecureFarm.StartAsync();
        Assert.StartsWith("https://", farm.Address);
        Assert.Empty((await farm.Jobs(SecureFarm.AdminToken).ListJobsAsync(new ListJobsRequest())).Jobs);

        // The system roots do not know the farm CA; another CA's file does not vouch for it either.
        var other = TestCertificates.Create(Path.Combine(farm.Root, "other"), "other");
        foreach (var channel in new[] { farm.Channel(SecureFarm.AdminToken, trustFarmCa: false), farm.Channel(SecureFarm.AdminToken, caFile: other.CaFile) })
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => new JobService.JobServiceClient(channel).ListJobsAsync(new ListJobsRequest()).ResponseAsync);
            // grpc-dotnet reports a failed handshake as Unavailable or Internal depending on where it broke off.
            Assert.True(error.StatusCode is StatusCode.Unavailable or StatusCode.Internal, error.ToString());
            Assert.Contains("SSL", error.ToString(), StringComparison.OrdinalIgnoreCase);
        }

        // Plaintext to the TLS port gets nowhere.
        using var plain = Grpc.Net.Client.GrpcChannel.ForAddress(farm.Address.Replace("https://", "http://", StringComparison.Ordinal));
        var cleartext = await Assert.ThrowsAsync<RpcException>(() => new JobService.JobServiceClient(plain).ListJobsAsync(new ListJobsRequest()).ResponseAsync);
        Assert.NotEqual(StatusCode.OK, cleartext.StatusCode);
    }

    [Fact]
    public async Task Oversize_messages_specs_and_uploads_are_refused_as_resource_exhausted_and_the_coordinator_keeps_serving()
    {
        await using var farm = await SecureFarm.StartAsync();
        var admin = farm.Jobs(SecureFarm.AdminToken);

        // Over the gRPC message limit (2 MiB): refused by the transport before any handler runs.
        var huge = await Assert.ThrowsAsync<RpcException>(() => admin.SubmitJobAsync(SecureFarm.Submit(new string('#', 3 * 1024 * 1024))).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, huge.StatusCode);

        // Within the message limit but over the spec limit (256 KiB): refused naming the setting.
        var longSpec = await Assert.ThrowsAsync<RpcException>(() => admin.SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("long", farm.Synthesize(), "alpha") + "\n#" + new string('x', 300 * 1024))).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, longSpec.StatusCode);
        Assert.Contains("Coordinator:MaxJobSpecBytes", longSpec.Status.Detail);

        // An upload whose header declares far more than the run's weights: refused before a chunk is read, and recorded.
        // Prepared in process, so the wire-level agent's first lease is a shard rather than the run's preparation.
        var job = farm.Scheduler.SubmitPrepared(SecureFarm.Submit(SecureFarm.Spec("upload", farm.Synthesize(), "alpha")).ToDomain());
        await farm.Scheduler.WhenRecordedAsync(job.Id, CancellationToken.None);
        var (_, tooLarge) = await GreedyUploadAsync(farm);
        Assert.Equal(StatusCode.ResourceExhausted, tooLarge.StatusCode);
        Assert.Contains("Coordinator:UploadHeadroomBytes", tooLarge.Status.Detail);
        Assert.Contains(farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts, a => a.Error?.Contains("upload declares", StringComparison.Ordinal) == true);

        // Still serving.
        Assert.Single((await admin.ListJobsAsync(new ListJobsRequest())).Jobs);
    }

    /// <summary>A wire-level agent takes its first lease and starts an upload declaring 64 GiB; returns the lease and the refusal.</summary>
    private static async Task<(Assignment Lease, RpcException Refusal)> GreedyUploadAsync(SecureFarm farm)
    {
        var agents = new AgentService.AgentServiceClient(farm.Channel(SecureFarm.FarmToken));
        var registration = await agents.RegisterAsync(Registration("greedy"));
        using var session = agents.Session();
        await session.RequestStream.WriteAsync(new AgentMessage { Hello = new Hello { AgentId = "greedy", SessionToken = registration.SessionToken } });
        await session.RequestStream.WriteAsync(new AgentMessage { Heartbeat = new Heartbeat() });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        Assert.True(await session.ResponseStream.MoveNext(timeout.Token));
        var lease = session.ResponseStream.Current.Assign;
        using var upload = agents.UploadResult();
        await upload.RequestStream.WriteAsync(new UploadResultRequest
        {
            Header = new UploadHeader { LeaseId = lease.LeaseId, LeaseEpoch = lease.LeaseEpoch, AgentId = "greedy", Digest = Sha256Digest.OfBytes([1]), TotalBytes = 64UL << 30, Samples = 1 },
        });
        return (lease, await Assert.ThrowsAsync<RpcException>(() => upload.ResponseAsync));
    }

    [Fact]
    public async Task A_preparation_upload_declaring_more_than_the_first_weights_limit_is_refused_before_any_chunk()
    {
        await using var farm = await SecureFarm.StartAsync();
        var admin = farm.Jobs(SecureFarm.AdminToken);
        await admin.SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("prepare", farm.Synthesize(), "alpha")));
        // The run has no template yet, so the first weights have a limit of their own: a huge header never gets to stream.
        var (lease, tooLarge) = await GreedyUploadAsync(farm);
        Assert.Equal(TaskKind.Prepare, lease.Kind);
        Assert.Equal(StatusCode.ResourceExhausted, tooLarge.StatusCode);
        Assert.Contains("Coordinator:MaxInitialWeightsBytes", tooLarge.Status.Detail);
        Assert.Single((await admin.ListJobsAsync(new ListJobsRequest())).Jobs);
    }

    [Fact]
    public async Task A_real_agent_with_the_farm_token_over_tls_completes_a_run()
    {
        await using var farm = await SecureFarm.StartAsync();
        var data = farm.Synthesize();
        var agent = farm.StartAgent("secure-agent");
        await FarmFixture.WaitUntilAsync(() => farm.Scheduler.ConnectedAgents == 1, TimeSpan.FromSeconds(60), () => "the agent did not connect:\n" + agent.Output);

        var alice = farm.Jobs(SecureFarm.AliceToken);
        var job = (await alice.SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("secure-run", data, "alpha", shards: 2)))).Job;
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        using (var watch = alice.WatchJob(new WatchJobRequest { JobId = job.Id }, cancellationToken: cts.Token))
        {
            while (await watch.ResponseStream.MoveNext(cts.Token))
            {
            }
        }

        var done = await alice.GetJobAsync(new GetJobRequest { JobId = job.Id });
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{agent.Output}");
        Assert.Equal("alice", done.SubmittedBy);
        // Its weights moved over the data plane, with the same TLS and token.
        Assert.Matches(@"uploaded \(\d+ bytes, duplicate: \w+\) over data plane https://", agent.Output);

        // The model is the show's too: bob (show beta) may not export it; alice may, recorded as hers.
        var bobModels = new ModelService.ModelServiceClient(farm.Channel(SecureFarm.BobToken));
        using (var refused = bobModels.ExportOnnx(new ExportOnnxRequest { RunOrDigest = job.Id, User = "alice" }))
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => refused.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        }

        var aliceModels = new ModelService.ModelServiceClient(farm.Channel(SecureFarm.AliceToken));
        using var export = aliceModels.ExportOnnx(new ExportOnnxRequest { RunOrDigest = job.Id, User = "mallory" });
        Assert.True(await export.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(job.Id, export.ResponseStream.Current.Header.RunId);
        var onnxDigest = export.ResponseStream.Current.Header.OnnxDigest;
        var permitDenied = await Assert.ThrowsAsync<RpcException>(() => bobModels.CheckInferenceAsync(new InferenceModelRequest { OnnxDigest = onnxDigest }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, permitDenied.StatusCode);
    }
}
