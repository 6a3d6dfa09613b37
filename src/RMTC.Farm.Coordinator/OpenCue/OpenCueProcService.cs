using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary><c>host.ProcInterface</c>: every agent's live leases (shard attempts and run tasks) as procs, read from the published farm view.</summary>
public sealed class OpenCueProcService(FarmScheduler scheduler) : ProcInterface.ProcInterfaceBase
{
    public override Task<ProcGetProcsResponse> GetProcs(ProcGetProcsRequest request, ServerCallContext context)
    {
        var view = scheduler.View;
        var r = request.R ?? new ProcSearchCriteria();
        var procs = Visible(view.Agents.SelectMany(a => OpenCueFarmMessages.ToProcs(a, view)), context)
            .Where(p => (r.Hosts.Count == 0 || r.Hosts.Contains(p.Name.Split('/')[0]))
                && (r.Jobs.Count == 0 || r.Jobs.Contains(p.JobName))
                && (r.Layers.Count == 0 || r.Layers.Any(l => p.FrameName.EndsWith("-" + l, StringComparison.Ordinal)))
                && (r.Shows.Count == 0 || r.Shows.Contains(p.ShowName))
                && (r.Allocs.Count == 0 || r.Allocs.Contains(OpenCueFarmMessages.AllocationName)))
            .OrderBy(p => p.DispatchTime)
            .Skip(Math.Max(0, r.FirstResult));
        if (r.MaxResults.Count > 0 && r.MaxResults[0] > 0)
        {
            procs = procs.Take(r.MaxResults[0]);
        }

        var response = new ProcGetProcsResponse { Procs = new ProcSeq() };
        response.Procs.Procs.AddRange(procs);
        return Task.FromResult(response);
    }

    /// <summary>The procs the caller may see: all, or with submit hosts listed only those of its shows' jobs.</summary>
    internal static IEnumerable<Proc> Visible(IEnumerable<Proc> procs, ServerCallContext context) =>
        context.OpenCueCaller() is { } caller ? procs.Where(p => caller.MayAct(p.ShowName)) : procs;
}
