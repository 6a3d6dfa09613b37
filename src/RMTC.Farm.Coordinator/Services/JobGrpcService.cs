using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Services;

/// <summary>The wranglers' side of the wire: submit, look up, follow and cancel training jobs.</summary>
public sealed class JobGrpcService(FarmScheduler scheduler) : JobService.JobServiceBase
{
    public override Task<SubmitJobResponse> SubmitJob(SubmitJobRequest request, ServerCallContext context)
    {
        try
        {
            return Task.FromResult(new SubmitJobResponse { Job = scheduler.Submit(request) });
        }
        catch (JobSpecException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
    }

    public override Task<Job> GetJob(GetJobRequest request, ServerCallContext context) =>
        Task.FromResult(scheduler.GetJob(request.JobId) ?? throw NotFound(request.JobId));

    public override Task<ListJobsResponse> ListJobs(ListJobsRequest request, ServerCallContext context)
    {
        var response = new ListJobsResponse();
        response.Jobs.AddRange(scheduler.ListJobs().Where(j => request.States.Count == 0 || request.States.Contains(j.State)));
        return Task.FromResult(response);
    }

    public override async Task WatchJob(WatchJobRequest request, IServerStreamWriter<JobEvent> responseStream, ServerCallContext context)
    {
        var events = scheduler.Watch(request.JobId, context.CancellationToken) ?? throw NotFound(request.JobId);
        await foreach (var e in events)
        {
            await responseStream.WriteAsync(e, context.CancellationToken);
        }
    }

    public override Task<Job> CancelJob(CancelJobRequest request, ServerCallContext context) =>
        Task.FromResult(scheduler.Cancel(request.JobId, request.Reason) ?? throw NotFound(request.JobId));

    public override Task<ManifestDocument> GetManifest(GetJobRequest request, ServerCallContext context) =>
        Task.FromResult(new ManifestDocument { Json = (scheduler.GetManifest(request.JobId) ?? throw NotFound(request.JobId)).ToJson() });

    private static RpcException NotFound(string id) =>
        new(new Status(StatusCode.NotFound, $"no job '{id}' on this coordinator: `rmtc status` lists the jobs it knows"));
}
