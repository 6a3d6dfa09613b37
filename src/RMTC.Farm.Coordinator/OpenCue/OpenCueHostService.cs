using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>host.HostInterface</c> and <c>host.ProcInterface</c>: the farm's agents as hosts (id and name are the agent's
/// id) and their live leases as procs, read from the published farm view. Hosts and procs carry no job data beyond
/// names, so they are listed to every caller; with submit hosts listed, procs of other shows' jobs are left out.
/// </summary>
public sealed class OpenCueHostService(FarmScheduler scheduler) : HostInterface.HostInterfaceBase
{
    public override Task<HostGetHostsResponse> GetHosts(HostGetHostsRequest request, ServerCallContext context)
    {
        var view = scheduler.View;
        var r = request.R ?? new HostSearchCriteria();
        var regexes = OpenCueLookup.Regexes(r.Regex, "regex");
        var states = r.States?.State.ToHashSet() ?? [];
        var locks = r.LockStates?.State.ToHashSet() ?? [];
        var response = new HostGetHostsResponse { Hosts = new HostSeq() };
        response.Hosts.Hosts.AddRange(view.Agents
            .Select(a => OpenCueFarmMessages.ToHost(a, view))
            .Where(h => (r.Hosts.Count == 0 || r.Hosts.Contains(h.Name))
                && (r.Ids.Count == 0 || r.Ids.Contains(h.Id))
                && (regexes.Count == 0 || regexes.Any(x => x.IsMatch(h.Name)))
                && (r.Substr.Count == 0 || r.Substr.Any(s => h.Name.Contains(s, StringComparison.Ordinal)))
                // The farm has one allocation, every agent: a filter naming it keeps every host, any other none.
                && (r.Allocs.Count == 0 || r.Allocs.Contains(OpenCueFarmMessages.AllocationName))
                && (states.Count == 0 || states.Contains(h.State))
                && (locks.Count == 0 || locks.Contains(h.LockState)))
            .OrderBy(h => h.Name, StringComparer.Ordinal));
        return Task.FromResult(response);
    }

    public override Task<HostFindHostResponse> FindHost(HostFindHostRequest request, ServerCallContext context)
    {
        var view = scheduler.View;
        return Task.FromResult(new HostFindHostResponse { Host = OpenCueFarmMessages.ToHost(Agent(view, request.Name), view) });
    }

    public override Task<HostGetHostResponse> GetHost(HostGetHostRequest request, ServerCallContext context)
    {
        var view = scheduler.View;
        return Task.FromResult(new HostGetHostResponse { Host = OpenCueFarmMessages.ToHost(Agent(view, request.Id), view) });
    }

    public override Task<HostGetProcsResponse> GetProcs(HostGetProcsRequest request, ServerCallContext context)
    {
        var view = scheduler.View;
        var host = request.Host ?? new Host();
        var agent = Agent(view, host.Id.Length > 0 ? host.Id : host.Name);
        var response = new HostGetProcsResponse { Procs = new ProcSeq() };
        response.Procs.Procs.AddRange(OpenCueProcService.Visible(OpenCueFarmMessages.ToProcs(agent, view), context));
        return Task.FromResult(response);
    }

    /// <summary>An agent by its id, which is its host name here (an agent's id defaults to its machine's name).</summary>
    internal static AgentView Agent(FarmView view, string name) =>
        view.Agents.FirstOrDefault(a => a.Id == name)
            ?? throw OpenCueLookup.NotFound($"Failed to find host data: no agent '{name}' has registered with this coordinator (hosts are agents, named by their agent id)");
}
