using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.OpenCue;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Services;

/// <summary>
/// The wranglers' side of the wire: submit, look up, follow and cancel training jobs. With wrangler tokens configured,
/// a wrangler reaches only their shows' jobs (another show's: PermissionDenied), an admin every job.
/// </summary>
public sealed class JobGrpcService(FarmScheduler scheduler, DatasetConfinement confinement, IOptions<SecurityOptions> security, IHostApplicationLifetime lifetime) : JobService.JobServiceBase
{
    public override async Task<SubmitJobResponse> SubmitJob(SubmitJobRequest request, ServerCallContext context)
    {
        try
        {
            var maxSpecBytes = security.Value.MaxJobSpecBytes;
            JobLimits.CheckSpecSize(request.SpecYaml, maxSpecBytes);
            var source = string.IsNullOrWhiteSpace(request.SourceName) ? "job spec" : request.SourceName;
            var baseDir = string.IsNullOrWhiteSpace(request.BaseDirectory) ? Environment.CurrentDirectory : request.BaseDirectory;
            var wrangler = context.Wrangler();
            if (wrangler is not null || confinement.Enabled)
            {
                // Parsed here too so the show and the dataset are judged before anything is prepared or stored.
                foreach (var spec in Parse(request.SpecYaml, source, baseDir, maxSpecBytes))
                {
                    ShowScope.CheckSubmit(wrangler, spec.EffectiveShow, source);
                    if (confinement.Check(spec.Dataset) is { } refusal)
                    {
                        throw new RpcException(new Status(StatusCode.PermissionDenied, $"{source}: {refusal}"));
                    }
                }
            }

            if (wrangler is not null)
            {
                // Who submitted is who the token says, not what the client claims.
                request = new SubmitJobRequest(request) { SubmittedBy = wrangler.User };
            }

            var job = scheduler.Submit(request, maxSpecBytes);
            await scheduler.WhenRecordedAsync(job.Id, context);
            return new SubmitJobResponse { Job = job };
        }
        catch (JobSpecException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
    }

    public override Task<Job> GetJob(GetJobRequest request, ServerCallContext context)
    {
        Scope(request.JobId, context);
        return Task.FromResult(scheduler.GetJob(request.JobId) ?? throw NotFound(request.JobId));
    }

    public override Task<ListJobsResponse> ListJobs(ListJobsRequest request, ServerCallContext context)
    {
        var response = new ListJobsResponse();
        var jobs = scheduler.ListJobs().Where(j => request.States.Count == 0 || request.States.Contains(j.State));
        if (context.Wrangler() is { IsAdmin: false } wrangler)
        {
            var shows = scheduler.ShowsOfRuns();
            jobs = jobs.Where(j => wrangler.MayAccess(shows.GetValueOrDefault(j.Id)));
        }

        response.Jobs.AddRange(jobs);
        return Task.FromResult(response);
    }

    public override async Task WatchJob(WatchJobRequest request, IServerStreamWriter<JobEvent> responseStream, ServerCallContext context)
    {
        Scope(request.JobId, context);
        // A stopping coordinator ends its watchers' streams at once (they reconnect to the next one) instead of holding its shutdown.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var events = scheduler.Watch(request.JobId, request.AfterSeq, request.AfterHash, stop.Token) ?? throw NotFound(request.JobId);
        // Headers at once: a client that reconnected knows it is following again before the next event, which may be minutes away.
        await context.WriteResponseHeadersAsync(new Metadata());
        try
        {
            await foreach (var e in events)
            {
                await responseStream.WriteAsync(e, stop.Token);
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
        return Task.FromResult(scheduler.Cancel(request.JobId, reason) ?? throw NotFound(request.JobId));
    }

    public override Task<ManifestDocument> GetManifest(GetJobRequest request, ServerCallContext context)
    {
        Scope(request.JobId, context);
        return Task.FromResult(new ManifestDocument { Json = (scheduler.GetManifest(request.JobId) ?? throw NotFound(request.JobId)).ToJson() });
    }

    /// <summary>Refuses a wrangler a job of another show (unknown jobs fall through to NotFound).</summary>
    private void Scope(string jobId, ServerCallContext context)
    {
        if (context.Wrangler() is { IsAdmin: false } wrangler && scheduler.TryGetShow(jobId, out var show))
        {
            ShowScope.CheckAccess(wrangler, show, $"job '{jobId}'");
        }
    }

    private static IReadOnlyList<JobSpec> Parse(string text, string source, string baseDir, int maxSpecBytes) =>
        CjslParser.LooksLikeCjsl(text)
            ? RunPreparation.ParseCjsl(text, source, baseDir)
            : [JobSpecParser.Parse(text, source, baseDir, BuiltInRecipes.Names, maxSpecBytes)];

    private static RpcException NotFound(string id) =>
        new(new Status(StatusCode.NotFound, $"no job '{id}' on this coordinator: `rmtc status` lists the jobs it knows"));
}
