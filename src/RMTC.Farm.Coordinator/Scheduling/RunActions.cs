namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>What a wrangler may do to shards of a run's current round (OpenCue's frame actions).</summary>
public enum ShardAction
{
    /// <summary>Queue the shard again: a merged result is taken out of the round's merge and the shard runs again.</summary>
    Retry,

    /// <summary>Stop the shard's running attempt (recorded as killed) and queue the shard again.</summary>
    Kill,

    /// <summary>Drop the shard from the round, where the round policy lets the round close without it.</summary>
    Eat,
}

/// <summary>Who asked for an action on a run, as the request named them, and how the request came.</summary>
/// <param name="By">The person (or client) the request names; recorded in the manifest and the run's events.</param>
/// <param name="Via">How it came, e.g. <c>OpenCue from 10.0.0.5</c>.</param>
/// <param name="Reason">The reason the request gave; empty when none.</param>
public sealed record ActionOrigin(string By, string Via, string Reason = "");

/// <summary>How the scheduler answered an action on a run.</summary>
public enum RunActionVerdict
{
    /// <summary>Done (and recorded in the run's manifest and events).</summary>
    Done,

    /// <summary>Not done: the run or its shards are not in a state that allows it; nothing changed.</summary>
    Refused,

    /// <summary>Not done: the request itself is wrong (a value out of range); nothing changed.</summary>
    Invalid,

    /// <summary>No such run.</summary>
    NotFound,
}

/// <summary>The answer to an action on a run: the verdict, the reason when not done, and the shards acted on.</summary>
/// <param name="Verdict">Done, refused, invalid or unknown run.</param>
/// <param name="Reason">Why it was not done (names what is wrong and what to do instead); empty when done.</param>
/// <param name="Shards">The shards acted on (shard actions); empty otherwise.</param>
public sealed record RunActionResult(RunActionVerdict Verdict, string Reason, IReadOnlyList<int> Shards)
{
    internal static RunActionResult Done(IReadOnlyList<int>? shards = null) => new(RunActionVerdict.Done, "", shards ?? []);

    internal static RunActionResult Refused(string reason) => new(RunActionVerdict.Refused, reason, []);

    internal static RunActionResult Invalid(string reason) => new(RunActionVerdict.Invalid, reason, []);

    internal static RunActionResult NotFound(string runId) => new(RunActionVerdict.NotFound, $"no run {runId}", []);
}
