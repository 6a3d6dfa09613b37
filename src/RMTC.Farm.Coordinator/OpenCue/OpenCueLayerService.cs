using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>job.LayerInterface</c>: a run's one layer (the training layer of its spec) and its frames, read from the
/// published farm view, and the frame actions on all of them. A layer's id is <c>JOB_ID/LAYER_NAME</c>.
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

    public override async Task<LayerRetryFramesResponse> RetryFrames(LayerRetryFramesRequest request, ServerCallContext context)
    {
        await ActOnLayerAsync(request.Layer, ShardAction.Retry, "cannot retry frames of", OpenCueActions.Origin(context), context);
        return new LayerRetryFramesResponse();
    }

    public override async Task<LayerKillFramesResponse> KillFrames(LayerKillFramesRequest request, ServerCallContext context)
    {
        await ActOnLayerAsync(request.Layer, ShardAction.Kill, "cannot kill frames of", OpenCueActions.Origin(context, request.Username, request.Pid, request.HostKill, request.Reason), context);
        return new LayerKillFramesResponse();
    }

    public override async Task<LayerEatFramesResponse> EatFrames(LayerEatFramesRequest request, ServerCallContext context)
    {
        await ActOnLayerAsync(request.Layer, ShardAction.Eat, "cannot eat frames of", OpenCueActions.Origin(context), context);
        return new LayerEatFramesResponse();
    }

    /// <summary>Acts on every frame of the layer (the run's one layer is all its frames).</summary>
    private async Task ActOnLayerAsync(Layer? layer, ShardAction action, string refusal, ActionOrigin origin, ServerCallContext context)
    {
        var (run, name) = _lookup.ByChildId(layer?.Id ?? "", "layer", refusal, context);
        OpenCueLookup.CheckLayer(run, name);
        await OpenCueActions.ActAsync(scheduler, run, action, Enumerable.Range(0, run.Shards.Count).ToList(), origin, strict: false);
    }
}
