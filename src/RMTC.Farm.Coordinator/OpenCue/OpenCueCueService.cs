using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary><c>cue.CueInterface</c>: pycue's connection probe, answered with the farm's counts where Cuebot has an equivalent.</summary>
public sealed class OpenCueCueService(FarmScheduler scheduler) : CueInterface.CueInterfaceBase
{
    public override Task<CueGetSystemStatsResponse> GetSystemStats(CueGetSystemStatsRequest request, ServerCallContext context)
    {
        var farm = scheduler.View.Counts;
        return Task.FromResult(new CueGetSystemStatsResponse
        {
            Stats = new SystemStats
            {
                DispatchWaiting = farm.ShardsQueued,
                DispatchThreads = farm.AgentsConnected,
                BookedProcs = farm.ShardsRunning,
            },
        });
    }
}
