using RMTC.Farm.Coordinator.Scheduling;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>Something that happened to a run, as its watchers see it.</summary>
/// <param name="At">When it happened.</param>
/// <param name="RunId">The run.</param>
/// <param name="Kind">What kind of work or event this is.</param>
/// <param name="Message">What happened, in words.</param>
/// <param name="Round">The round it happened in; 0 before the first.</param>
/// <param name="Shard">The shard it concerns; -1 for the run or a task.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Seq">Its entry in the run's hash chain; 0 for a live-only event (progress), which is not chained.</param>
/// <param name="Hash">That entry's hash, so a watcher can resume after it; empty for a live-only event.</param>
/// <param name="Status">The run as it stood right after the event; null for events replayed from the store, except the last.</param>
public sealed record RunEvent(
    DateTimeOffset At,
    string RunId,
    string Kind,
    string Message,
    int Round,
    int Shard,
    string AgentId,
    long Seq,
    string Hash,
    RunStatus? Status);
