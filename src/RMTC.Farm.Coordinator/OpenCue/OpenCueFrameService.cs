using System.Globalization;
using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>job.FrameInterface</c>: the current round's shards as frames, read from the published farm view, and one frame's
/// retry, kill and eat (refused, naming why, when the frame's state does not allow it). A frame's id is
/// <c>JOB_ID/FRAME_NUMBER</c>.
/// </summary>
public sealed class OpenCueFrameService(FarmScheduler scheduler) : FrameInterface.FrameInterfaceBase
{
    private readonly OpenCueLookup _lookup = new(scheduler);

    public override Task<FrameFindFrameResponse> FindFrame(FrameFindFrameRequest request, ServerCallContext context)
    {
        var run = OpenCueLookup.Permitted(_lookup.ByName(request.Job, context), "cannot read", context);
        OpenCueLookup.CheckLayer(run, request.Layer);
        return Task.FromResult(new FrameFindFrameResponse { Frame = OpenCueLookup.FrameOf(run, request.Frame) });
    }

    public override Task<FrameGetFrameResponse> GetFrame(FrameGetFrameRequest request, ServerCallContext context)
    {
        var (run, part) = _lookup.ByChildId(request.Id, "frame", "cannot read", context);
        if (!int.TryParse(part, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            throw OpenCueLookup.NotFound($"Failed to find frame data: no frame with id '{request.Id}' (frame ids are JOB_ID/FRAME_NUMBER)");
        }

        return Task.FromResult(new FrameGetFrameResponse { Frame = OpenCueLookup.FrameOf(run, number) });
    }

    public override Task<FrameGetFramesResponse> GetFrames(FrameGetFramesRequest request, ServerCallContext context)
    {
        var run = OpenCueLookup.Permitted(_lookup.ById(request.Job), "cannot read", context);
        var response = new FrameGetFramesResponse { Frames = new FrameSeq() };
        response.Frames.Frames.AddRange(OpenCueLookup.Search(run, request.R));
        return Task.FromResult(response);
    }

    public override async Task<FrameRetryResponse> Retry(FrameRetryRequest request, ServerCallContext context)
    {
        await ActAsync(request.Frame, ShardAction.Retry, "cannot retry a frame of", OpenCueActions.Origin(context), context);
        return new FrameRetryResponse();
    }

    public override async Task<FrameKillResponse> Kill(FrameKillRequest request, ServerCallContext context)
    {
        await ActAsync(request.Frame, ShardAction.Kill, "cannot kill a frame of", OpenCueActions.Origin(context, request.Username, request.Pid, request.HostKill, request.Reason), context);
        return new FrameKillResponse();
    }

    public override async Task<FrameEatResponse> Eat(FrameEatRequest request, ServerCallContext context)
    {
        await ActAsync(request.Frame, ShardAction.Eat, "cannot eat a frame of", OpenCueActions.Origin(context), context);
        return new FrameEatResponse();
    }

    /// <summary>One frame, named by the id of the Frame message pycue holds (<c>JOB_ID/FRAME_NUMBER</c>).</summary>
    private async Task ActAsync(Frame? frame, ShardAction action, string refusal, ActionOrigin origin, ServerCallContext context)
    {
        var id = frame?.Id ?? "";
        var (run, part) = _lookup.ByChildId(id, "frame", refusal, context);
        if (!int.TryParse(part, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            throw OpenCueLookup.NotFound($"Failed to find frame data: no frame with id '{id}' (frame ids are JOB_ID/FRAME_NUMBER)");
        }

        await OpenCueActions.ActAsync(scheduler, run, action, [OpenCueActions.ShardOf(run, number)], origin, strict: true);
    }
}
