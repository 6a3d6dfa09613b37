using System.Globalization;
using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>job.FrameInterface</c>: the current round's shards as frames, read from the published farm view. A frame's id
/// is <c>JOB_ID/FRAME_NUMBER</c>.
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
}
