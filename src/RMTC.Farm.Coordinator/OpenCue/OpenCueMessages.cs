using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Core.OpenCue;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// A run in OpenCue's terms: one job with one layer whose frames are the current round's shards. Memory is in KB
/// and times in Unix seconds, as Cuebot sends them.
/// </summary>
internal static class OpenCueMessages
{
    /// <summary>The name OpenCue tools know the run by: its conformed OpenCue job name, or the run's name for YAML submissions.</summary>
    public static string NameOf(RunView run) => run.Spec.OpenCue?.JobName ?? run.Name;

    public static string LayerNameOf(RunView run) => run.Spec.OpenCue?.Layer ?? "train";

    /// <summary>The run's one layer's id: <c>JOB_ID/LAYER_NAME</c>.</summary>
    public static string LayerIdOf(RunView run) => $"{run.Id}/{LayerNameOf(run)}";

    /// <summary>The frame number of each shard: the layer's frame range in order, or 1..N for YAML submissions.</summary>
    public static IReadOnlyList<int> FramesOf(RunView run) =>
        run.Spec.OpenCue is { } origin && FrameSet.TryParse(origin.Range, out var frames, out _) && frames.Count == run.Shards.Count
            ? frames
            : Enumerable.Range(1, run.Shards.Count).ToArray();

    public static Job ToJob(RunView run)
    {
        var origin = run.Spec.OpenCue;
        var job = new Job
        {
            Id = run.Id,
            State = run.IsFinal ? JobState.Finished : JobState.Pending,
            Name = NameOf(run),
            // A YAML submission's show (`show:`) too, so OpenCue tools see and search it by show.
            Show = run.Spec.EffectiveShow ?? "",
            Shot = origin?.Shot ?? "",
            User = origin?.User ?? run.SubmittedBy,
            Facility = origin?.Facility ?? "",
            Priority = run.Priority,
            HasComment = run.Comments > 0,
            MinCores = (float)run.Spec.Resources.Cores,
            MinGpus = run.Spec.Resources.Gpus,
            IsPaused = run.Paused,
            StartTime = Seconds(run.SubmittedAt),
            StopTime = run.FinishedAt is { } f ? Seconds(f) : 0,
            JobStats = JobStatsOf(run),
        };
        if (origin?.Uid is { } uid)
        {
            job.Uid = uid;
        }

        return job;
    }

    public static Layer ToLayer(RunView run)
    {
        var spec = run.Spec;
        var origin = spec.OpenCue;
        var layer = new Layer
        {
            Id = LayerIdOf(run),
            Name = LayerNameOf(run),
            Range = origin?.Range ?? $"1-{run.Shards.Count}",
            MinCores = (float)spec.Resources.Cores,
            MinMemory = spec.Resources.MemoryMiB * 1024,
            MinGpuMemory = spec.Resources.GpuMemoryMiB * 1024,
            MinGpus = spec.Resources.Gpus,
            ChunkSize = 1,
            DispatchOrder = 1,
            Type = origin?.LayerType switch
            {
                "Util" => LayerType.Util,
                "Post" => LayerType.Post,
                _ => LayerType.Render,
            },
            Command = origin?.Command ?? $"rmtc train --recipe {spec.Recipe} --dataset {spec.Dataset}",
            LayerStats = new LayerStats(),
        };
        layer.Tags.AddRange(spec.Resources.Tags);
        // The spec's services as written (a layer that names none shows the farm's own).
        layer.Services.AddRange(origin?.Services is { Count: > 0 } services ? services : ["rmtc"]);
        var counts = Count(run);
        layer.LayerStats.TotalFrames = run.Shards.Count;
        layer.LayerStats.WaitingFrames = counts[ShardStatus.Waiting];
        layer.LayerStats.RunningFrames = counts[ShardStatus.Running];
        layer.LayerStats.SucceededFrames = counts[ShardStatus.Succeeded];
        layer.LayerStats.DeadFrames = counts[ShardStatus.Dead];
        layer.LayerStats.EatenFrames = counts[ShardStatus.Eaten];
        layer.LayerStats.PendingFrames = counts[ShardStatus.Waiting];
        return layer;
    }

    public static IEnumerable<Frame> ToFrames(RunView run)
    {
        var frames = FramesOf(run);
        var layer = LayerNameOf(run);
        foreach (var shard in run.Shards)
        {
            var number = frames[shard.Index];
            yield return new Frame
            {
                Id = $"{run.Id}/{number}",
                Name = $"{number:0000}-{layer}",
                LayerName = layer,
                Number = number,
                State = StateOf(shard.Status),
                RetryCount = shard.Retries,
                ExitStatus = shard.Status == ShardStatus.Dead ? 1 : 0,
                DispatchOrder = shard.Index,
                StartTime = shard.StartedAt is { } s ? Seconds(s) : 0,
                StopTime = shard.StoppedAt is { } e ? Seconds(e) : 0,
                ReservedMemory = run.Spec.Resources.MemoryMiB * 1024,
                ReservedGpuMemory = run.Spec.Resources.GpuMemoryMiB * 1024,
                LastResource = shard.AgentId ?? "",
            };
        }
    }

    public static FrameState StateOf(ShardStatus status) => status switch
    {
        ShardStatus.Waiting => FrameState.Waiting,
        ShardStatus.Running => FrameState.Running,
        ShardStatus.Succeeded => FrameState.Succeeded,
        ShardStatus.Dead => FrameState.Dead,
        _ => FrameState.Eaten,
    };

    private static JobStats JobStatsOf(RunView run)
    {
        var counts = Count(run);
        return new JobStats
        {
            TotalLayers = 1,
            TotalFrames = run.Shards.Count,
            WaitingFrames = counts[ShardStatus.Waiting],
            RunningFrames = counts[ShardStatus.Running],
            SucceededFrames = counts[ShardStatus.Succeeded],
            DeadFrames = counts[ShardStatus.Dead],
            EatenFrames = counts[ShardStatus.Eaten],
            PendingFrames = counts[ShardStatus.Waiting],
            RenderedFrameCount = counts[ShardStatus.Succeeded],
            FailedFrameCount = run.Shards.Sum(s => s.Failures),
        };
    }

    private static Dictionary<ShardStatus, int> Count(RunView run) =>
        Enum.GetValues<ShardStatus>().ToDictionary(s => s, s => run.Shards.Count(x => x.Status == s));

    /// <summary>Unix seconds, as OpenCue's messages carry times.</summary>
    public static int Seconds(DateTimeOffset at) => (int)Math.Clamp(at.ToUnixTimeSeconds(), 0, int.MaxValue);

    /// <summary>
    /// The frames that may have changed since <paramref name="lastCheck"/> (Unix seconds), for CueGUI's incremental
    /// refresh. A shard changes state only when an attempt starts or stops, when a new round requeues it (it then has no
    /// attempt yet: such frames always come back), or when the run ends (then every frame comes back).
    /// </summary>
    public static IEnumerable<Frame> UpdatedSince(RunView run, int lastCheck)
    {
        var ended = run.FinishedAt is { } finished && Seconds(finished) >= lastCheck;
        return ToFrames(run).Where(f => ended || f.StartTime == 0 || f.StartTime >= lastCheck || f.StopTime >= lastCheck);
    }

    public static UpdatedFrame ToUpdatedFrame(Frame frame) => new()
    {
        Id = frame.Id,
        State = frame.State,
        RetryCount = frame.RetryCount,
        ExitStatus = frame.ExitStatus,
        StartTime = frame.StartTime,
        StopTime = frame.StopTime,
        LastResource = frame.LastResource,
    };

}
