using Grpc.Core;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Coordinator.Services;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.OpenCue;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>job.JobInterface</c> as pycue and pyoutline use it: launch CJSL specs as training runs, look jobs up by name or
/// id, follow their frames (the current round's shards), kill, pause and resume. Errors carry Cuebot's status codes.
/// With submit hosts listed (<see cref="Security.OpenCueCaller"/>), every call is held to the caller's shows: launches
/// into other shows and actions on their jobs are refused, searches leave their jobs out.
/// </summary>
public sealed partial class OpenCueJobService(FarmScheduler scheduler, Submission.SubmissionPipeline pipeline, Security.DatasetConfinement confinement, Microsoft.Extensions.Options.IOptions<Security.SecurityOptions> security, ILogger<OpenCueJobService> log) : JobInterface.JobInterfaceBase
{
    private readonly OpenCueLookup _lookup = new(scheduler);

    /// <summary>Cuebot returns at most this many finished jobs from a search.</summary>
    private const int FinishedSearchLimit = 200;

    public override async Task<JobLaunchSpecResponse> LaunchSpec(JobLaunchSpecRequest request, ServerCallContext context)
    {
        var response = new JobLaunchSpecResponse();
        response.Names.AddRange((await LaunchRecordedAsync(request.Spec, context)).Select(OpenCueMessages.NameOf));
        return response;
    }

    public override async Task<JobLaunchSpecAndWaitResponse> LaunchSpecAndWait(JobLaunchSpecAndWaitRequest request, ServerCallContext context)
    {
        var response = new JobLaunchSpecAndWaitResponse { Jobs = new JobSeq() };
        response.Jobs.Jobs.AddRange((await LaunchRecordedAsync(request.Spec, context)).Select(OpenCueMessages.ToJob));
        return response;
    }

    /// <summary>Launches a spec's jobs and answers once every one is stored, so a launch pycue saw succeed survives a crash.</summary>
    private async Task<IReadOnlyList<RunView>> LaunchRecordedAsync(string spec, ServerCallContext context)
    {
        var runs = await LaunchAsync(spec, context);
        foreach (var run in runs)
        {
            await scheduler.WhenRecordedAsync(run.Id, context);
        }

        return runs;
    }

    public override Task<JobFindJobResponse> FindJob(JobFindJobRequest request, ServerCallContext context) =>
        Task.FromResult(new JobFindJobResponse { Job = OpenCueMessages.ToJob(Permitted(ByName(request.Name, context), "cannot read", context)) });

    public override Task<JobGetJobResponse> GetJob(JobGetJobRequest request, ServerCallContext context) =>
        Task.FromResult(new JobGetJobResponse { Job = OpenCueMessages.ToJob(Permitted(ById(request.Id), "cannot read", context)) });

    public override Task<JobGetJobsResponse> GetJobs(JobGetJobsRequest request, ServerCallContext context)
    {
        var response = new JobGetJobsResponse { Jobs = new JobSeq() };
        response.Jobs.Jobs.AddRange(Search(request.R, context).Select(OpenCueMessages.ToJob));
        return Task.FromResult(response);
    }

    public override Task<JobGetJobNamesResponse> GetJobNames(JobGetJobNamesRequest request, ServerCallContext context)
    {
        var response = new JobGetJobNamesResponse();
        response.Names.AddRange(Search(request.R, context).Select(OpenCueMessages.NameOf));
        return Task.FromResult(response);
    }

    /// <summary>The runs that match OpenCue's job search criteria, newest first, with at most <see cref="FinishedSearchLimit"/> finished ones.</summary>
    private IEnumerable<RunView> Search(JobSearchCriteria? criteria, ServerCallContext context)
    {
        var r = criteria ?? new JobSearchCriteria();
        var regexes = OpenCueLookup.Regexes(r.Regex, "regex");
        var finished = 0;
        foreach (var run in Visible(context))
        {
            var name = OpenCueMessages.NameOf(run);
            var origin = run.Spec.OpenCue;
            var matches = (r.Ids.Count == 0 || r.Ids.Contains(run.Id))
                && (r.Jobs.Count == 0 || r.Jobs.Contains(name))
                && (regexes.Count == 0 || regexes.Any(x => x.IsMatch(name)))
                && (r.Substr.Count == 0 || r.Substr.Any(s => name.Contains(s, StringComparison.Ordinal)))
                && (r.Users.Count == 0 || r.Users.Contains(origin?.User ?? run.SubmittedBy))
                && (r.Shots.Count == 0 || r.Shots.Contains(origin?.Shot ?? ""))
                && (r.Shows.Count == 0 || r.Shows.Contains(run.Spec.EffectiveShow ?? ""))
                && (r.IncludeFinished || !run.IsFinal);
            if (matches && (!run.IsFinal || ++finished <= FinishedSearchLimit))
            {
                yield return run;
            }
        }
    }

    public override Task<JobIsJobPendingResponse> IsJobPending(JobIsJobPendingRequest request, ServerCallContext context) =>
        Task.FromResult(new JobIsJobPendingResponse
        {
            Value = Visible(context).Any(r => !r.IsFinal && OpenCueMessages.NameOf(r) == request.Name),
        });

    public override Task<JobGetLayersResponse> GetLayers(JobGetLayersRequest request, ServerCallContext context)
    {
        var response = new JobGetLayersResponse { Layers = new LayerSeq() };
        response.Layers.Layers.Add(OpenCueMessages.ToLayer(Resolve(request.Job, "cannot read", context)));
        return Task.FromResult(response);
    }

    public override Task<JobGetFramesResponse> GetFrames(JobGetFramesRequest request, ServerCallContext context)
    {
        var response = new JobGetFramesResponse { Frames = new FrameSeq() };
        response.Frames.Frames.AddRange(OpenCueLookup.Search(Resolve(request.Job, "cannot read", context), request.Req));
        return Task.FromResult(response);
    }

    public override Task<JobGetUpdatedFramesResponse> GetUpdatedFrames(JobGetUpdatedFramesRequest request, ServerCallContext context)
    {
        var view = _lookup.View;
        var run = Resolve(request.Job, "cannot read", context);
        // CueGUI sends the Layer messages it holds; a layer is matched by its id or its name.
        var layers = request.LayerFilter?.Layers.SelectMany(l => new[] { l.Id, l.Name }).Where(n => n.Length > 0).ToHashSet() ?? [];
        var (layerId, layerName) = (OpenCueMessages.LayerIdOf(run), OpenCueMessages.LayerNameOf(run));
        var response = new JobGetUpdatedFramesResponse
        {
            State = run.IsFinal ? JobState.Finished : JobState.Pending,
            ServerTime = OpenCueMessages.Seconds(view.TakenAt),
            UpdatedFrames = new UpdatedFrameSeq(),
        };
        response.UpdatedFrames.UpdatedFrames.AddRange(OpenCueMessages.UpdatedSince(run, request.LastCheck)
            .Where(f => layers.Count == 0 || layers.Contains(layerId) || layers.Contains(layerName))
            .Select(OpenCueMessages.ToUpdatedFrame));
        return Task.FromResult(response);
    }

    public override Task<JobKillResponse> Kill(JobKillRequest request, ServerCallContext context)
    {
        var run = Resolve(request.Job, "cannot kill", context);
        var origin = OpenCueActions.Origin(context, request.Username, request.Pid, request.HostKill, request.Reason);
        scheduler.Cancel(run.Id, $"killed by {origin.By} via {origin.Via}{(origin.Reason.Length > 0 ? ": " + origin.Reason : "")}");
        LogKilled(run.Id, origin.By, origin.Via);
        return Task.FromResult(new JobKillResponse());
    }

    public override Task<JobPauseResponse> Pause(JobPauseRequest request, ServerCallContext context)
    {
        scheduler.SetPaused(Resolve(request.Job, "cannot pause", context).Id, paused: true);
        return Task.FromResult(new JobPauseResponse());
    }

    public override Task<JobResumeResponse> Resume(JobResumeRequest request, ServerCallContext context)
    {
        scheduler.SetPaused(Resolve(request.Job, "cannot resume", context).Id, paused: false);
        return Task.FromResult(new JobResumeResponse());
    }

    /// <summary>Parses, checks and schedules every job of a spec; nothing is scheduled when anything is wrong.</summary>
    private async Task<IReadOnlyList<RunView>> LaunchAsync(string spec, ServerCallContext context)
    {
        var caller = context.OpenCueCaller();
        try
        {
            var bytes = System.Text.Encoding.UTF8.GetByteCount(spec);
            if (bytes > security.Value.MaxJobSpecBytes)
            {
                throw new JobSpecException([$"spec is {bytes} bytes, over the limit of {security.Value.MaxJobSpecBytes} (Coordinator:MaxJobSpecBytes)"]);
            }

            var specs = Submission.SubmissionPipeline.ParseLaunch(spec, "spec");
            // Checked before anything else is judged or scheduled: a spec with one job of another show launches nothing.
            if (caller is not null && specs.FirstOrDefault(s => !caller.MayAct(s.EffectiveShow)) is { } foreign)
            {
                var refusal = caller.Refuse($"cannot launch job '{foreign.OpenCue?.JobName ?? foreign.Name}'", foreign.EffectiveShow);
                LogRefused(refusal.Status.Detail);
                throw refusal;
            }

            var outside = specs.Select(s => confinement.Check(s.Dataset)).OfType<string>().ToList();
            if (outside.Count > 0)
            {
                throw new JobSpecException(outside);
            }

            // The user is the spec's claim: pycue sends no credentials. The submit host's address is logged beside it.
            var user = specs.Count > 0 ? specs[0].OpenCue?.User ?? "" : "";
            var jobs = await pipeline.SubmitAsync(specs, "spec", user, context.CancellationToken);
            LogLaunched(jobs.Count, string.Join(", ", jobs.Select(j => j.Id)), user, Peer(context));
            return jobs.Select(j => scheduler.ViewRun(j.Id)!).ToList();
        }
        catch (JobSpecException e)
        {
            LogRefused(e.Message);
            // Cuebot's wording, which pycue shows the wrangler as is.
            throw new RpcException(new Status(StatusCode.Internal, "Failed to launch and add job: " + e.Message));
        }
    }

    private RunView Resolve(Job? job, string action, ServerCallContext context) => _lookup.Resolve(job, action, context);

    private static RunView Permitted(RunView run, string action, ServerCallContext context) => OpenCueLookup.Permitted(run, action, context);

    private IEnumerable<RunView> Visible(ServerCallContext context) => _lookup.Visible(context);

    private RunView ById(string id) => _lookup.ById(id);

    private RunView ByName(string name, ServerCallContext context) => _lookup.ByName(name, context);

    private static string Peer(ServerCallContext context) =>
        context.GetHttpContext().Connection.RemoteIpAddress?.ToString() ?? context.Peer;

    [LoggerMessage(Level = LogLevel.Information, Message = "OpenCue spec launched {Count} run(s): {RunIds} (user {User}, as the spec claims; from {Address})")]
    private partial void LogLaunched(int count, string runIds, string user, string address);

    [LoggerMessage(Level = LogLevel.Information, Message = "OpenCue Kill of run {RunId} by {User} ({Via})")]
    private partial void LogKilled(string runId, string user, string via);

    [LoggerMessage(Level = LogLevel.Information, Message = "OpenCue spec refused: {Reason}")]
    private partial void LogRefused(string reason);
}
