using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Coordinator.Services.Wire;
using RMTC.Farm.Coordinator.Submission;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Services;

/// <summary>
/// The wranglers' side of the wire: submit, look up, follow and cancel training jobs. With wrangler tokens configured,
/// a wrangler reaches only their shows' jobs (another show's: PermissionDenied), an admin every job.
/// </summary>
public sealed class JobGrpcService(FarmScheduler scheduler, SubmissionPipeline pipeline, DatasetConfinement confinement, IOptions<SecurityOptions> security, IHostApplicationLifetime lifetime) : JobService.JobServiceBase
{
    public override async Task<SubmitJobResponse> SubmitJob(SubmitJobRequest request, ServerCallContext context)
    {
        try
        {
            var maxSpecBytes = security.Value.MaxJobSpecBytes;
            JobLimits.CheckSpecSize(request.SpecYaml, maxSpecBytes);
            var submission = request.ToDomain();
            var source = SubmissionPipeline.SourceOf(submission);
            var specs = SubmissionPipeline.ParseSubmitted(submission, maxSpecBytes);
            // The show and the dataset are judged before anything is prepared or stored.
            var wrangler = context.Wrangler();
            foreach (var spec in specs)
            {
                ShowScope.CheckSubmit(wrangler, spec.EffectiveShow, source);
                if ((confinement.Check(spec.Dataset) ?? (spec.Model is { } model ? confinement.CheckModelFile(model.File) : null)) is { } refusal)
                {
                    throw new RpcException(new Status(StatusCode.PermissionDenied, $"{source}: {refusal}"));
                }
            }

            // Who submitted is who the token says, not what the client claims.
            var job = (await pipeline.SubmitAsync(specs, source, wrangler?.User ?? submission.SubmittedBy, context.CancellationToken))[0];
            await scheduler.WhenRecordedAsync(job.Id, context);
            return new SubmitJobResponse { Job = job.ToWire() };
        }
        catch (JobSpecException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
    }

    public override Task<Job> GetJob(GetJobRequest request, ServerCallContext context)
    {
        Scope(request.JobId, context);
        return Task.FromResult(scheduler.GetJob(request.JobId)?.ToWire() ?? throw NotFound(request.JobId));
    }

    public override Task<ListJobsResponse> ListJobs(ListJobsRequest request, ServerCallContext context)
    {
        var response = new ListJobsResponse();
        var jobs = scheduler.ListJobs().Where(j => request.States.Count == 0 || request.States.Contains(RunWire.ToWire(j.State)));
        if (context.Wrangler() is { IsAdmin: false } wrangler)
        {
            var shows = scheduler.ShowsOfRuns();
            jobs = jobs.Where(j => wrangler.MayAccess(shows.GetValueOrDefault(j.Id)));
        }

        response.Jobs.AddRange(jobs.Select(j => j.ToWire()));
        return Task.FromResult(response);
    }

    public override async Task WatchJob(WatchJobRequest request, IServerStreamWriter<JobEvent> responseStream, ServerCallContext context)
    {
        Scope(request.JobId, context);
        // A stopping coordinator ends its watchers' streams at once (they reconnect to the next one) instead of holding its shutdown.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var events = scheduler.Watch(request.JobId, (long)Math.Min(request.AfterSeq, long.MaxValue), request.AfterHash, stop.Token) ?? throw NotFound(request.JobId);
        // Headers at once: a client that reconnected knows it is following again before the next event, which may be minutes away.
        await context.WriteResponseHeadersAsync(new Metadata());
        try
        {
            await foreach (var e in events)
            {
                await responseStream.WriteAsync(e.ToWire(), stop.Token);
            }
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "the coordinator is stopping: follow the job again once it is back (rmtc watch reconnects by itself)"));
        }
    }

    public override Task<Job> CancelJob(CancelJobRequest request, ServerCallContext context)
    {
        Scope(request.JobId, context);
        var reason = context.Wrangler() is { } wrangler
            ? $"{(string.IsNullOrWhiteSpace(request.Reason) ? "cancelled by request" : request.Reason)} (by {wrangler.User})"
            : request.Reason;
        return Task.FromResult(scheduler.Cancel(request.JobId, reason)?.ToWire() ?? throw NotFound(request.JobId));
    }

    public override async Task<ManifestDocument> GetManifest(GetJobRequest request, ServerCallContext context)
    {
        Scope(request.JobId, context);
        return new ManifestDocument { Json = (await scheduler.GetManifestAsync(request.JobId, context.CancellationToken) ?? throw NotFound(request.JobId)).ToJson() };
    }

    /// <summary>Refuses a wrangler a job of another show (unknown jobs fall through to NotFound).</summary>
    private void Scope(string jobId, ServerCallContext context)
    {
        if (context.Wrangler() is { IsAdmin: false } wrangler && scheduler.TryGetShow(jobId, out var show))
        {
            ShowScope.CheckAccess(wrangler, show, $"job '{jobId}'");
        }
    }

    private static RpcException NotFound(string id) =>
        new(new Status(StatusCode.NotFound, $"no job '{id}' on this coordinator: `rmtc status` lists the jobs it knows"));
}
