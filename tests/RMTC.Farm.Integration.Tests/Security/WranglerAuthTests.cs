using RMTC.Farm.Core.Lineage;
using Grpc.Core;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.Security;

/// <summary>Wranglers' tokens and show scoping, over real gRPC with TLS on loopback.</summary>
public sealed class WranglerAuthTests
{
    [Fact]
    public async Task Calls_without_a_token_or_with_an_unknown_one_are_refused_as_unauthenticated()
    {
        await using var farm = await SecureFarm.StartAsync();
        foreach (var token in new[] { null, "not-a-token-of-this-farm-at-all" })
        {
            var jobs = farm.Jobs(token);
            var list = await Assert.ThrowsAsync<RpcException>(() => jobs.ListJobsAsync(new ListJobsRequest()).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, list.StatusCode);
            var submit = await Assert.ThrowsAsync<RpcException>(() => jobs.SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("x", farm.Synthesize(), "alpha"))).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, submit.StatusCode);
            var lineage = await Assert.ThrowsAsync<RpcException>(() => new LineageService.LineageServiceClient(farm.Channel(token)).ShowAsync(new LineageRunRequest { RunId = "x" }).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, lineage.StatusCode);
            var model = await Assert.ThrowsAsync<RpcException>(() => new ModelService.ModelServiceClient(farm.Channel(token)).CheckInferenceAsync(new InferenceModelRequest { OnnxDigest = new string('a', 64) }).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, model.StatusCode);
        }

        Assert.Empty(farm.Scheduler.ListJobs());
    }

    [Fact]
    public async Task A_wrangler_reaches_only_their_shows_jobs_and_an_admin_reaches_all()
    {
        await using var farm = await SecureFarm.StartAsync();
        var data = farm.Synthesize();
        var alice = farm.Jobs(SecureFarm.AliceToken);
        var bob = farm.Jobs(SecureFarm.BobToken);
        var admin = farm.Jobs(SecureFarm.AdminToken);

        // submitted_by is the token's user, whatever the client claims.
        var job = (await alice.SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("alpha-job", data, "alpha"), submittedBy: "mallory"))).Job;
        Assert.Equal("alice", job.SubmittedBy);
        Assert.Equal("alice", farm.Scheduler.GetManifest(job.Id)!.SubmittedBy);

        // Another show: refused, not even a queued trace.
        var wrongShow = await Assert.ThrowsAsync<RpcException>(() => alice.SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("beta-job", data, "beta"))).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, wrongShow.StatusCode);
        Assert.Contains("show 'beta'", wrongShow.Status.Detail);
        var noShow = await Assert.ThrowsAsync<RpcException>(() => alice.SubmitJobAsync(SecureFarm.Submit(SecureFarm.Spec("no-show", data, null))).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, noShow.StatusCode);
        Assert.Contains("show: <one of yours: alpha>", noShow.Status.Detail);
        Assert.Single(farm.Scheduler.ListJobs());

        // Bob (show beta) may not look at, follow, or cancel alice's alpha job; his list leaves it out.
        var get = await Assert.ThrowsAsync<RpcException>(() => bob.GetJobAsync(new GetJobRequest { JobId = job.Id }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, get.StatusCode);
        Assert.Contains("show 'alpha'", get.Status.Detail);
        var manifest = await Assert.ThrowsAsync<RpcException>(() => bob.GetManifestAsync(new GetJobRequest { JobId = job.Id }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, manifest.StatusCode);
        using (var watch = bob.WatchJob(new WatchJobRequest { JobId = job.Id }))
        {
            var watched = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.PermissionDenied, watched.StatusCode);
        }

        var cancel = await Assert.ThrowsAsync<RpcException>(() => bob.CancelJobAsync(new CancelJobRequest { JobId = job.Id }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, cancel.StatusCode);
        Assert.NotEqual(RunStates.Cancelled, farm.Scheduler.GetJob(job.Id)!.State);
        Assert.Empty((await bob.ListJobsAsync(new ListJobsRequest())).Jobs);
        await farm.Scheduler.FlushAsync();
        var lineage = await Assert.ThrowsAsync<RpcException>(() => new LineageService.LineageServiceClient(farm.Channel(SecureFarm.BobToken)).ShowAsync(new LineageRunRequest { RunId = job.Id }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, lineage.StatusCode);
        // Farm-wide lineage leaves other shows' runs out; reindexing is an admin's.
        var dataset = farm.Scheduler.GetManifest(job.Id)!.Dataset.Digest;
        var down = new TraceRequest { Digest = dataset, Direction = TraceDirection.Down };
        Assert.DoesNotContain(job.Id, (await new LineageService.LineageServiceClient(farm.Channel(SecureFarm.BobToken)).TraceAsync(down)).Json);
        Assert.Contains(job.Id, (await new LineageService.LineageServiceClient(farm.Channel(SecureFarm.AliceToken)).TraceAsync(down)).Json);
        var reindex = await Assert.ThrowsAsync<RpcException>(() => new LineageService.LineageServiceClient(farm.Channel(SecureFarm.AliceToken)).ReindexAsync(new ReindexRequest()).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, reindex.StatusCode);

        // Alice sees her job and its lineage; the admin sees and cancels everything.
        Assert.Equal(job.Id, (await alice.GetJobAsync(new GetJobRequest { JobId = job.Id })).Id);
        Assert.Single((await alice.ListJobsAsync(new ListJobsRequest())).Jobs);
        Assert.Contains(job.Id, (await new LineageService.LineageServiceClient(farm.Channel(SecureFarm.AliceToken)).ShowAsync(new LineageRunRequest { RunId = job.Id })).Json);
        Assert.Single((await admin.ListJobsAsync(new ListJobsRequest())).Jobs);
        var cancelled = await admin.CancelJobAsync(new CancelJobRequest { JobId = job.Id, Reason = "test" });
        Assert.Equal(JobState.Cancelled, cancelled.State);
        Assert.Contains("(by root)", farm.Scheduler.GetManifest(job.Id)!.Error);
    }
}
