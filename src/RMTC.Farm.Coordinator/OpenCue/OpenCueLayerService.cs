using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>job.LayerInterface</c>: a run's one layer (the training layer of its spec) and its frames, read from the
/// published farm view. A layer's id is <c>JOB_ID/LAYER_NAME</c>.
/// </summary>
public sealed class OpenCueLayerService(FarmScheduler scheduler) : LayerInterface.LayerInterfaceBase
{
    private readonly OpenCueLookup _lookup = new(scheduler);

    public override Task<LayerFindLayerResponse> FindLayer(LayerFindLayerRequest request, ServerCallContext context)
    {
        var run = OpenCueLookup.Permitted(_lookup.ByName(request.Job, context), "cannot read", context);
        OpenCueLookup.CheckLayer(run, request.Layer);
        return Task.FromResult(new LayerFindLayerResponse { Layer = OpenCueMessages.ToLayer(run) });
    }

    public override Task<LayerGetLayerResponse> GetLayer(LayerGetLayerRequest request, ServerCallContext context)
    {
        var (run, layer) = _lookup.ByChildId(request.Id, "layer", "cannot read", context);
        OpenCueLookup.CheckLayer(run, layer);
        return Task.FromResult(new LayerGetLayerResponse { Layer = OpenCueMessages.ToLayer(run) });
    }

    public override Task<LayerGetFramesResponse> GetFrames(LayerGetFramesRequest request, ServerCallContext context)
    {
        // pycue sends the Layer message it holds: its id names the run and the layer.
        var (run, layer) = _lookup.ByChildId(request.Layer?.Id ?? "", "layer", "cannot read", context);
        OpenCueLookup.CheckLayer(run, layer);
        var response = new LayerGetFramesResponse { Frames = new FrameSeq() };
        response.Frames.Frames.AddRange(OpenCueLookup.Search(run, request.S));
        return Task.FromResult(response);
    }
}
