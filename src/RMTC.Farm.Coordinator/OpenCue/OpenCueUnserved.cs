namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// What the farm answers, in its own words, to an OpenCue call it does not serve: what the call would do on Cuebot has
/// no equivalent here, or is done another way. Looked up by method (<c>package.Service/Method</c>), then by service,
/// then by package.
/// </summary>
internal static class OpenCueUnserved
{
    private const string Allocations = "rmtc does not run Cuebot's allocation model: agents take any shard that fits their resources (cores, memory, GPUs, tags), so every agent is in the one allocation rmtc.agents (listed by AllocationInterface/GetAll, its hosts by GetHosts) and each show's one subscription is to it, without size or burst limits (ShowInterface/GetSubscriptions); there are no facilities, and allocations and subscriptions cannot be changed";
    private const string FrameActions = "rmtc does not mark frames done or waiting: a frame is a shard, done once its result is merged into the round; retry it (frame retry, cueman -retry) to train it again, kill it (cueman -kill) to restart its attempt, or eat it (cueman -eat) where the round policy lets the round close without it";
    private const string LayerChanges = "rmtc takes a layer's resources, tags and range from the launched spec and does not change them afterwards: kill the job and launch a corrected spec";

    private static readonly Dictionary<string, string> ByMethod = new(StringComparer.Ordinal)
    {
        ["job.JobInterface/MarkDoneFrames"] = FrameActions,
        ["job.JobInterface/ReorderFrames"] = "rmtc plans a round's shards itself (balanced and seeded) and leases them as agents free up: frames cannot be reordered",
        ["job.JobInterface/StaggerFrames"] = "rmtc plans a round's shards itself (balanced and seeded) and leases them as agents free up: frames cannot be staggered",
        ["job.JobInterface/GetWhatDependsOnThis"] = "rmtc jobs have no dependencies: a job is one training layer, and specs with <depends> entries are refused",
        ["job.JobInterface/GetWhatThisDependsOn"] = "rmtc jobs have no dependencies: a job is one training layer, and specs with <depends> entries are refused",
        ["job.JobInterface/GetDepends"] = "rmtc jobs have no dependencies: a job is one training layer, and specs with <depends> entries are refused",
        ["job.JobInterface/SetGroup"] = "rmtc has no job groups: a job belongs to its show only",
        ["job.JobInterface/SetMinCores"] = LayerChanges,
        ["job.JobInterface/SetMaxCores"] = LayerChanges,
        ["job.JobInterface/SetMinGpus"] = LayerChanges,
        ["job.JobInterface/SetMaxGpus"] = LayerChanges,
        ["job.JobInterface/SetAutoEat"] = "rmtc does not eat dead frames: a shard that fails more than <maxretries> times fails the run, since the round's average needs it",
        ["job.LayerInterface/GetOutputPaths"] = "rmtc registers no output paths: a run's outputs are the weights and manifest in its lineage (rmtc lineage show RUN_ID)",
        ["job.LayerInterface/GetLimits"] = "rmtc has no OpenCue limits: a shard runs where an agent's resources fit it",
        ["job.LayerInterface/MarkdoneFrames"] = FrameActions,
        ["job.FrameInterface/MarkAsWaiting"] = FrameActions,
        ["job.FrameInterface/GetFrameStateDisplayOverrides"] = "rmtc has no frame state display overrides: a frame's state is its shard's",
        ["host.HostInterface/Lock"] = "rmtc does not lock hosts over OpenCue: an agent stops taking work while its node yields to rendering, or when it is stopped",
        ["host.HostInterface/Unlock"] = "rmtc does not lock hosts over OpenCue: an agent stops taking work while its node yields to rendering, or when it is stopped",
        ["host.HostInterface/Reboot"] = "rmtc does not reboot hosts: agents are daemons their nodes' owners run",
        ["host.HostInterface/RebootWhenIdle"] = "rmtc does not reboot hosts: agents are daemons their nodes' owners run",
        ["host.HostInterface/SetAllocation"] = Allocations,
        ["host.HostInterface/GetComments"] = "rmtc keeps no comments on hosts",
        ["host.HostInterface/AddComment"] = "rmtc keeps no comments on hosts",
        ["host.ProcInterface/Kill"] = "rmtc kills a running attempt by its frame: frame kill, or cueman -kill JOB -range N (the attempt is recorded as killed and the shard queued again)",
        ["host.ProcInterface/Unbook"] = "rmtc does not unbook procs: a lease ends when its attempt finishes, fails or its agent goes away",
        ["show.ShowInterface/CreateShow"] = "rmtc has no show registry: a show exists once a job names it in its spec (and the farm admin grants shows to submit hosts in Coordinator:OpenCueSubmitHosts)",
        ["show.ShowInterface/Delete"] = "rmtc has no show registry: a show exists once a job names it in its spec",
        ["show.ShowInterface/CreateSubscription"] = Allocations,
        ["show.ShowInterface/GetGroups"] = "rmtc has no job groups: a job belongs to its show only",
        ["show.ShowInterface/GetRootGroup"] = "rmtc has no job groups: a job belongs to its show only",
        ["show.ShowInterface/GetFilters"] = "rmtc has no OpenCue filters: a spec's settings are what it says",
    };

    private static readonly Dictionary<string, string> ByService = new(StringComparer.Ordinal)
    {
        ["facility.AllocationInterface"] = Allocations,
        ["facility.FacilityInterface"] = Allocations,
        ["subscription.SubscriptionInterface"] = Allocations,
        ["job.GroupInterface"] = "rmtc has no job groups: a job belongs to its show only",
        ["job.JobInterface"] = "rmtc changes a launched job only to kill, pause or resume it, set its priority or max retries, comment on it, and retry, kill or eat its frames: kill it and launch a corrected spec for anything else",
        ["job.LayerInterface"] = LayerChanges,
        ["job.FrameInterface"] = FrameActions,
        ["host.HostInterface"] = "rmtc's hosts are its agents, which register and report themselves: they cannot be changed over OpenCue",
        ["host.DeedInterface"] = "rmtc has no host ownership (deeds): agents are daemons their nodes' owners run",
        ["host.OwnerInterface"] = "rmtc has no host ownership (deeds): agents are daemons their nodes' owners run",
        ["show.ShowInterface"] = "rmtc has no show registry: a show exists once a job names it in its spec, and has no settings",
        ["service.ServiceInterface"] = "rmtc has no OpenCue services (GetDefaultServices lists none): every layer runs `rmtc train` on an agent, with the resources its spec names, and services cannot be created or changed",
        ["service.ServiceOverrideInterface"] = "rmtc has no OpenCue services: every layer runs `rmtc train` on an agent, with the resources its spec names",
        ["limit.LimitInterface"] = "rmtc has no OpenCue limits (GetAll lists none): a shard runs where an agent's resources fit it, and limits cannot be created or changed",
        ["comment.CommentInterface"] = "rmtc keeps a job's comments in its run's lineage once made: they cannot be edited or deleted (add another with job.addComment)",
        ["depend.DependInterface"] = "rmtc jobs have no dependencies: a job is one training layer, and specs with <depends> entries are refused",
        ["filter.FilterInterface"] = "rmtc has no OpenCue filters: a spec's settings are what it says",
        ["filter.ActionInterface"] = "rmtc has no OpenCue filters: a spec's settings are what it says",
        ["filter.MatcherInterface"] = "rmtc has no OpenCue filters: a spec's settings are what it says",
        ["department.DepartmentInterface"] = "rmtc has no departments: jobs belong to shows only",
        ["task.TaskInterface"] = "rmtc has no departments or tasks: jobs belong to shows only",
        ["renderPartition.RenderPartitionInterface"] = "rmtc has no local booking: a shard runs on whichever agent's resources fit it",
        ["monitoring.MonitoringInterface"] = "rmtc keeps no OpenCue monitoring history: the coordinator's Prometheus /metrics and the Explorer show the farm",
        ["rqd.RqdInterface"] = "rmtc has no RQD: agents are rmtc's own daemons and speak its own protocol on the coordinator's main port",
        ["rqd.RunningFrame"] = "rmtc has no RQD: agents are rmtc's own daemons and speak its own protocol on the coordinator's main port",
        ["report.RqdReportInterface"] = "rmtc has no RQD: agents are rmtc's own daemons and speak its own protocol on the coordinator's main port",
    };

    /// <summary>OpenCue's proto packages: a call into any of them is OpenCue's.</summary>
    public static readonly IReadOnlySet<string> Packages = new HashSet<string>(StringComparer.Ordinal)
    {
        "comment", "criterion", "cue", "department", "depend", "facility", "filter", "host", "job", "limit",
        "monitoring", "renderPartition", "report", "rqd", "service", "show", "subscription", "task",
    };

    /// <summary>True when <paramref name="path"/> (<c>/package.Service/Method</c>) is a call into one of OpenCue's packages.</summary>
    public static bool IsOpenCue(string path)
    {
        var start = path.StartsWith('/') ? 1 : 0;
        var dot = path.IndexOf('.', start);
        return dot > start && Packages.Contains(path[start..dot]);
    }

    /// <summary>The answer to an OpenCue call the farm does not serve, naming the call and what the farm does instead.</summary>
    public static string Explain(string path)
    {
        var call = path.TrimStart('/');
        var slash = call.IndexOf('/');
        var service = slash > 0 ? call[..slash] : call;
        var why = ByMethod.GetValueOrDefault(call) ?? ByService.GetValueOrDefault(service)
            ?? "rmtc serves the part of OpenCue that submits training jobs and watches them (see the README, Submitting from OpenCue tools)";
        return $"{call} is not served by this rmtc coordinator: {why}";
    }
}
