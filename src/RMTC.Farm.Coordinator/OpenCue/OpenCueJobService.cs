using System.Text.RegularExpressions;
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
        var r = request.R ?? new JobSearchCriteria();
        List<Regex> regexes;
        try
        {
            regexes = r.Regex.Select(p => new Regex(p, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100))).ToList();
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"regex: {e.Message}"));
        }

        var matches = Visible(context).Where(run =>
        {
            var job = OpenCueMessages.ToJob(run);
            return (r.Ids.Count == 0 || r.Ids.Contains(run.Id))
                && (r.Jobs.Count == 0 || r.Jobs.Contains(job.Name))
                && (regexes.Count == 0 || regexes.Any(x => x.IsMatch(job.Name)))
                && (r.Substr.Count == 0 || r.Substr.Any(s => job.Name.Contains(s, StringComparison.Ordinal)))
                && (r.Users.Count == 0 || r.Users.Contains(job.User))
                && (r.Shots.Count == 0 || r.Shots.Contains(job.Shot))
                && (r.Shows.Count == 0 || r.Shows.Contains(job.Show))
                && (r.IncludeFinished || !run.IsFinal);
        });
        var finished = 0;
        var response = new JobGetJobsResponse { Jobs = new JobSeq() };
        foreach (var run in matches)
        {
            if (run.IsFinal && ++finished > FinishedSearchLimit)
            {
                continue;
            }

            response.Jobs.Jobs.Add(OpenCueMessages.ToJob(run));
        }

        return Task.FromResult(response);
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
        var run = Resolve(request.Job, "cannot read", context);
        var r = request.Req ?? new FrameSearchCriteria();
        IReadOnlyList<int>? range = null;
        if (r.FrameRange.Length > 0 && !FrameSet.TryParse(r.FrameRange, out range, out var error))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"frame_range: {error}"));
        }

        var states = r.States?.FrameStates.ToHashSet() ?? [];
        IEnumerable<Frame> frames = OpenCueMessages.ToFrames(run).Where(f =>
            (r.Ids.Count == 0 || r.Ids.Contains(f.Id))
            && (r.Frames.Count == 0 || r.Frames.Contains(f.Name))
            && (r.Layers.Count == 0 || r.Layers.Contains(f.LayerName))
            && (states.Count == 0 || states.Contains(f.State))
            && (range is null || range.Contains(f.Number)));
        if (r.Limit > 0)
        {
            frames = frames.Skip(Math.Max(0, r.Page - 1) * r.Limit).Take(r.Limit);
        }

        var response = new JobGetFramesResponse { Frames = new FrameSeq() };
        response.Frames.Frames.AddRange(frames);
        return Task.FromResult(response);
    }

    public override Task<JobKillResponse> Kill(JobKillRequest request, ServerCallContext context)
    {
        var run = Resolve(request.Job, "cannot kill", context);
        var who = request.Username.Length > 0 ? request.Username : "an OpenCue client";
        var reason = $"killed by {who} via OpenCue{(request.Reason.Length > 0 ? ": " + request.Reason : "")}";
        scheduler.Cancel(run.Id, reason);
        LogKilled(run.Id, who, Peer(context));
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

    /// <summary>A job reference as pycue sends it: a Job message with at least its id or its name; refused when not the caller's show's.</summary>
    private RunView Resolve(Job? job, string action, ServerCallContext context) =>
        Permitted(
            job is null ? throw NotFound("no job given")
            : job.Id.Length > 0 ? ById(job.Id)
            : ByName(job.Name, context),
            action,
            context);

    /// <summary>
    /// The run, when the caller may act on its show; otherwise PermissionDenied rather than NotFound, as for wranglers
    /// (<see cref="Security.ShowScope"/>): run ids and OpenCue job names are not secret.
    /// </summary>
    private static RunView Permitted(RunView run, string action, ServerCallContext context) =>
        context.OpenCueCaller() is { } caller && !caller.MayAct(run.Spec.EffectiveShow)
            ? throw caller.Refuse($"{action} job '{OpenCueMessages.NameOf(run)}' ({run.Id})", run.Spec.EffectiveShow)
            : run;

    /// <summary>The runs a search may return: every run, or only the caller's shows' when submit hosts are listed.</summary>
    private IEnumerable<RunView> Visible(ServerCallContext context) =>
        context.OpenCueCaller() is { } caller ? scheduler.ViewRuns().Where(r => caller.MayAct(r.Spec.EffectiveShow)) : scheduler.ViewRuns();

    private static string Peer(ServerCallContext context) =>
        context.GetHttpContext().Connection.RemoteIpAddress?.ToString() ?? context.Peer;

    private RunView ById(string id) =>
        (id.Length > 0 ? scheduler.ViewRun(id) : null) is { } run && run.Id == id
            ? run
            : throw NotFound($"Failed to find job data: no job with id '{id}'");

    /// <summary>
    /// The pending job of that name or, unlike Cuebot, the newest finished one, so a finished run can still be found.
    /// The caller's shows' jobs come first, so another show's job of the same name does not hide one of theirs.
    /// </summary>
    private RunView ByName(string name, ServerCallContext context)
    {
        var caller = context.OpenCueCaller();
        var runs = scheduler.ViewRuns().Where(r => OpenCueMessages.NameOf(r) == name)
            .OrderBy(r => caller is null || caller.MayAct(r.Spec.EffectiveShow) ? 0 : 1).ToList();
        return runs.FirstOrDefault(r => !r.IsFinal) ?? runs.FirstOrDefault()
            ?? throw NotFound($"Failed to find job data: no job named '{name}' (names are conformed: show-shot-user_name, lower case)");
    }

    private static RpcException NotFound(string message) => new(new Status(StatusCode.NotFound, message));

    [LoggerMessage(Level = LogLevel.Information, Message = "OpenCue spec launched {Count} run(s): {RunIds} (user {User}, as the spec claims; from {Address})")]
    private partial void LogLaunched(int count, string runIds, string user, string address);

    [LoggerMessage(Level = LogLevel.Information, Message = "OpenCue Kill of run {RunId} by {User} (as the call claims; from {Address})")]
    private partial void LogKilled(string runId, string user, string address);

    [LoggerMessage(Level = LogLevel.Information, Message = "OpenCue spec refused: {Reason}")]
    private partial void LogRefused(string reason);
}
