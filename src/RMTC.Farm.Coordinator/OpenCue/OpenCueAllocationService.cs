using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>facility.AllocationInterface</c>: rmtc has no allocations to book into (an agent takes any shard that fits its
/// resources), so it answers with the one allocation every agent is in, <see cref="OpenCueFarmMessages.AllocationName"/>,
/// its totals and its hosts (every agent). CueGUI's Monitor Hosts lists allocations before it shows a host, its
/// Allocations window lists each allocation's hosts, its Subscription Graphs look allocations up by name, and
/// cueadmin -la prints them.
/// </summary>
public sealed class OpenCueAllocationService(FarmScheduler scheduler) : AllocationInterface.AllocationInterfaceBase
{
    public override Task<AllocGetAllResponse> GetAll(AllocGetAllRequest request, ServerCallContext context)
    {
        var response = new AllocGetAllResponse { Allocations = new AllocationSeq() };
        response.Allocations.Allocations.Add(OpenCueFarmMessages.ToAllocation(scheduler.View));
        return Task.FromResult(response);
    }

    public override Task<AllocFindResponse> Find(AllocFindRequest request, ServerCallContext context)
    {
        Check(request.Name);
        return Task.FromResult(new AllocFindResponse { Allocation = OpenCueFarmMessages.ToAllocation(scheduler.View) });
    }

    public override Task<AllocGetHostsResponse> GetHosts(AllocGetHostsRequest request, ServerCallContext context)
    {
        var allocation = request.Allocation ?? new Allocation();
        Check(allocation.Name.Length > 0 ? allocation.Name : allocation.Id);
        var view = scheduler.View;
        var response = new AllocGetHostsResponse { Hosts = new HostSeq() };
        response.Hosts.Hosts.AddRange(view.Agents.Select(a => OpenCueFarmMessages.ToHost(a, view)).OrderBy(h => h.Name, StringComparer.Ordinal));
        return Task.FromResult(response);
    }

    /// <summary>NOT_FOUND, naming the one allocation there is, unless <paramref name="name"/> is it.</summary>
    private static void Check(string name)
    {
        if (name != OpenCueFarmMessages.AllocationName)
        {
            throw OpenCueLookup.NotFound($"Failed to find allocation data: rmtc has one allocation, {OpenCueFarmMessages.AllocationName} (every agent), not '{name}'");
        }
    }
}
