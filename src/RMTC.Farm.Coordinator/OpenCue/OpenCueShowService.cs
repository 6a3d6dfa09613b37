using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>show.ShowInterface</c>: the farm's shows are the shows its jobs were submitted into (a spec's <c>show</c>), and,
/// with submit hosts listed, the caller's own shows; another show is refused by name and left out of lists.
/// </summary>
public sealed class OpenCueShowService(FarmScheduler scheduler) : ShowInterface.ShowInterfaceBase
{
    public override Task<ShowGetShowsResponse> GetShows(ShowGetShowsRequest request, ServerCallContext context)
    {
        var response = new ShowGetShowsResponse { Shows = new ShowSeq() };
        response.Shows.Shows.AddRange(Shows(scheduler.View, context));
        return Task.FromResult(response);
    }

    public override Task<ShowGetActiveShowsResponse> GetActiveShows(ShowGetActiveShowsRequest request, ServerCallContext context)
    {
        var response = new ShowGetActiveShowsResponse { Shows = new ShowSeq() };
        response.Shows.Shows.AddRange(Shows(scheduler.View, context).Where(s => s.Active));
        return Task.FromResult(response);
    }

    public override Task<ShowFindShowResponse> FindShow(ShowFindShowRequest request, ServerCallContext context) =>
        Task.FromResult(new ShowFindShowResponse { Show = Find(request.Name, context) });

    /// <summary>
    /// The show's job whiteboard (CueGUI's Monitor Cue polls it for every show it monitors): the show as one group
    /// holding its unfinished jobs. A show with none has an empty group, as in Cuebot; one the caller may not act for
    /// is refused by name.
    /// </summary>
    public override Task<ShowGetJobWhiteboardResponse> GetJobWhiteboard(ShowGetJobWhiteboardRequest request, ServerCallContext context)
    {
        var name = request.Show?.Name is { Length: > 0 } n ? n
            : throw new RpcException(new Status(StatusCode.InvalidArgument, "GetJobWhiteboard needs the show by name (show.name): pick one from GetShows"));
        if (context.OpenCueCaller() is { } caller && !caller.MayAct(name))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"cannot read show '{name}': OpenCue calls from {caller.Address} may act for {caller.ShowList} only; the farm admin grants shows to submit hosts in Coordinator:OpenCueSubmitHosts"));
        }

        var view = scheduler.View;
        var runs = OpenCueLookup.Visible(view, context).Where(r => string.Equals(r.Spec.EffectiveShow, name, StringComparison.Ordinal)).ToList();
        return Task.FromResult(new ShowGetJobWhiteboardResponse { Whiteboard = OpenCueFarmMessages.ToWhiteboard(name, runs, view) });
    }

    /// <summary>
    /// The show's subscriptions (CueGUI's Subscriptions window and Subscription Graphs): one, to the allocation every
    /// agent is in, with no guaranteed size and a burst of every agent's cores, since any show's shard may run on any
    /// agent that fits it; what its running attempts reserve is its use.
    /// </summary>
    public override Task<ShowGetSubscriptionResponse> GetSubscriptions(ShowGetSubscriptionRequest request, ServerCallContext context)
    {
        var name = request.Show?.Name is { Length: > 0 } n ? n : request.Show?.Id ?? "";
        var show = Find(name, context);
        var allocation = OpenCueFarmMessages.ToAllocation(scheduler.View);
        var response = new ShowGetSubscriptionResponse { Subscriptions = new SubscriptionSeq() };
        response.Subscriptions.Subscriptions.Add(new Subscription
        {
            Id = $"{allocation.Name}.{show.Name}",
            Name = $"{allocation.Name}.{show.Name}",
            ShowName = show.Name,
            Facility = allocation.Facility,
            AllocationName = allocation.Name,
            // Cuebot's units: hundredths of a core.
            Size = 0,
            Burst = (int)Math.Round(allocation.Stats.Cores * 100),
            ReservedCores = (int)Math.Round(show.ShowStats.ReservedCores * 100),
            ReservedGpus = (int)Math.Round(show.ShowStats.ReservedGpus),
        });
        return Task.FromResult(response);
    }

    /// <summary>A show the caller may see, by name: PERMISSION_DENIED for another show of a submit host, NOT_FOUND for none.</summary>
    private Show Find(string name, ServerCallContext context)
    {
        if (context.OpenCueCaller() is { } caller && !caller.MayAct(name))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"cannot read show '{name}': OpenCue calls from {caller.Address} may act for {caller.ShowList} only; the farm admin grants shows to submit hosts in Coordinator:OpenCueSubmitHosts"));
        }

        return Shows(scheduler.View, context).FirstOrDefault(s => s.Name == name)
            ?? throw OpenCueLookup.NotFound($"Failed to find show data: no job of this farm is in show '{name}' (a show exists here once a job names it in its spec)");
    }

    /// <summary>Every show the caller may see, by name.</summary>
    private static IEnumerable<Show> Shows(FarmView view, ServerCallContext context)
    {
        var byShow = OpenCueLookup.Visible(view, context).Where(r => r.Spec.EffectiveShow is not null)
            .GroupBy(r => r.Spec.EffectiveShow!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<RunView>)g.ToList(), StringComparer.Ordinal);
        var names = byShow.Keys.Concat(context.OpenCueCaller()?.Shows ?? Enumerable.Empty<string>()).Distinct(StringComparer.Ordinal);
        return names.Order(StringComparer.Ordinal).Select(n => OpenCueFarmMessages.ToShow(n, byShow.GetValueOrDefault(n) ?? [], view));
    }
}
