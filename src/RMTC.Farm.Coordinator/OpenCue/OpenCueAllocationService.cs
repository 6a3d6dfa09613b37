using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>facility.AllocationInterface</c>: rmtc has no allocations to book into (an agent takes any shard that fits its
/// resources), so it answers with the one allocation every agent is in, <see cref="OpenCueFarmMessages.AllocationName"/>,
/// and its totals. CueGUI's Monitor Hosts lists allocations before it shows a host, and cueadmin -la prints them.
/// </summary>
public sealed class OpenCueAllocationService(FarmScheduler scheduler) : AllocationInterface.AllocationInterfaceBase
{
    public override Task<AllocGetAllResponse> GetAll(AllocGetAllRequest request, ServerCallContext context)
    {
        var response = new AllocGetAllResponse { Allocations = new AllocationSeq() };
        response.Allocations.Allocations.Add(OpenCueFarmMessages.ToAllocation(scheduler.View));
        return Task.FromResult(response);
    }
}
