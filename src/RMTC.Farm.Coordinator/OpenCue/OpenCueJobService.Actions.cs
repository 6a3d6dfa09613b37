using Grpc.Core;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>job.JobInterface</c>'s frame actions (retryFrames, killFrames, eatFrames on the frames a search matches) and job
/// controls (setPriority, setMaxRetries, comments), each a transition of the scheduler recorded in the run's lineage.
/// </summary>
public sealed partial class OpenCueJobService
{
    public override async Task<JobRetryFramesResponse> RetryFrames(JobRetryFramesRequest request, ServerCallContext context)
    {
        await ActOnSearchAsync(request.Job, request.Req, ShardAction.Retry, "cannot retry frames of", OpenCueActions.Origin(context), context);
        return new JobRetryFramesResponse();
    }

    public override async Task<JobKillFramesResponse> KillFrames(JobKillFramesRequest request, ServerCallContext context)
    {
        var origin = OpenCueActions.Origin(context, request.Username, request.Pid, request.HostKill, request.Reason);
        await ActOnSearchAsync(request.Job, request.Req, ShardAction.Kill, "cannot kill frames of", origin, context);
        return new JobKillFramesResponse();
    }

    public override async Task<JobEatFramesResponse> EatFrames(JobEatFramesRequest request, ServerCallContext context)
    {
        await ActOnSearchAsync(request.Job, request.Req, ShardAction.Eat, "cannot eat frames of", OpenCueActions.Origin(context), context);
        return new JobEatFramesResponse();
    }

    public override Task<JobSetPriorityResponse> SetPriority(JobSetPriorityRequest request, ServerCallContext context)
    {
        var run = Resolve(request.Job, "cannot set the priority of", context);
        OpenCueActions.Check(scheduler.SetPriority(run.Id, request.Val, OpenCueActions.Origin(context)), run, "set the priority of");
        return Task.FromResult(new JobSetPriorityResponse());
    }

    public override Task<JobSetMaxRetriesResponse> SetMaxRetries(JobSetMaxRetriesRequest request, ServerCallContext context)
    {
        var run = Resolve(request.Job, "cannot set the max retries of", context);
        OpenCueActions.Check(scheduler.SetMaxRetries(run.Id, request.MaxRetries, OpenCueActions.Origin(context)), run, "set the max retries of");
        return Task.FromResult(new JobSetMaxRetriesResponse());
    }

    public override Task<JobAddCommentResponse> AddComment(JobAddCommentRequest request, ServerCallContext context)
    {
        var run = Resolve(request.Job, "cannot comment on", context);
        var comment = request.NewComment ?? new Comment();
        // pycue sends the user from $USER; the caller's address is recorded beside it.
        var origin = OpenCueActions.Origin(context, comment.User);
        OpenCueActions.Check(scheduler.AddComment(run.Id, origin.By, comment.Subject, comment.Message, origin), run, "add a comment to");
        return Task.FromResult(new JobAddCommentResponse());
    }

    public override async Task<JobGetCommentsResponse> GetComments(JobGetCommentsRequest request, ServerCallContext context)
    {
        var run = Resolve(request.Job, "cannot read", context);
        var response = new JobGetCommentsResponse { Comments = new CommentSeq() };
        response.Comments.Comments.AddRange((await scheduler.CommentsOfAsync(run.Id, context.CancellationToken) ?? []).Select(c => new Comment
        {
            Id = $"{run.Id}/comment/{c.Number}",
            Timestamp = OpenCueMessages.Seconds(c.At),
            User = c.User,
            Subject = c.Subject,
            Message = c.Message,
        }));
        return response;
    }

    /// <summary>Acts on the frames of the job that the search matches (every frame when it sets nothing), as cueman -retry/-kill/-eat do; none matched: nothing, as Cuebot.</summary>
    private async Task ActOnSearchAsync(Job? job, FrameSearchCriteria? criteria, ShardAction action, string refusal, ActionOrigin origin, ServerCallContext context)
    {
        var run = Resolve(job, refusal, context);
        var shards = OpenCueActions.ShardsOf(run, OpenCueLookup.Search(run, criteria));
        if (shards.Count == 0)
        {
            // As Cuebot: CueGUI's Retry Dead Frames and Eat Dead Frames ask for frames that are DEAD, usually none, and
            // show an error only as a traceback. A search that matches nothing does nothing.
            LogNothingMatched(action.ToString().ToLowerInvariant(), run.Id, origin.By, origin.Via);
            return;
        }

        LogFrameAction(action.ToString().ToLowerInvariant(), run.Id, shards.Count, origin.By, origin.Via);
        await OpenCueActions.ActAsync(scheduler, run, action, shards, origin, strict: false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "OpenCue {Action} of run {RunId} asked by {By} ({Via}) matched no frame: nothing done")]
    private partial void LogNothingMatched(string action, string runId, string by, string via);

    [LoggerMessage(Level = LogLevel.Information, Message = "OpenCue {Action} of {Count} frame(s) of run {RunId} asked by {By} ({Via})")]
    private partial void LogFrameAction(string action, string runId, int count, string by, string via);
}
