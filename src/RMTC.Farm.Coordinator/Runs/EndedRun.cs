using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// What the scheduler keeps of a run that has ended: what lists, pages, OpenCue views, show scoping and watchers need,
/// without its rounds and attempts. Its whole manifest is one document in the store and is read from there when asked
/// (<see cref="EndedRuns"/>), except until its last write has landed (<see cref="Unwritten"/>).
/// </summary>
internal sealed class EndedRun
{
    /// <summary>The run's submission counter: where it sorts among all runs, newest first.</summary>
    public required long SubmitOrder { get; init; }

    /// <summary>The run as published (spec, state, last round's shards, summary); never changes once ended.</summary>
    public required RunView View { get; init; }

    /// <summary>The run's status as it ended (what GetJob and ListJobs answer).</summary>
    public required RunStatus Status { get; init; }

    /// <summary>Failed attempts that were tolerated per shard (named by the refusal of a frame action).</summary>
    public required int MaxRetries { get; init; }

    /// <summary>The run's event log: its history is read from the store when someone watches it.</summary>
    public required RunEventLog Events { get; init; }

    /// <summary>Completes once the run's first manifest is in the store (see <see cref="FarmScheduler.WhenRecordedAsync"/>).</summary>
    public required Task Stored { get; init; }

    /// <summary>
    /// The run's manifest while its last write is still on its way to the store (the store would answer an older state);
    /// null once it landed. Guarded by the scheduler's lock.
    /// </summary>
    public RunManifest? Unwritten { get; set; }

    public string Id => View.Id;

    public string State => View.State;
}
