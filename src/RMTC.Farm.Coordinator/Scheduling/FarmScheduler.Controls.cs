using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// Job controls a wrangler changes after submission (OpenCue's setPriority and setMaxRetries) and comments on a run:
/// kept in the run's manifest (<see cref="RunManifest.Controls"/>, <see cref="RunManifest.Comments"/>) and recorded as
/// events of the run, so they survive a restart and show in its lineage.
/// </summary>
public sealed partial class FarmScheduler
{
    /// <summary>Most comments kept per run: each is part of the manifest, whose size is bounded.</summary>
    public const int MaxComments = 64;

    /// <summary>Longest comment subject, characters.</summary>
    public const int MaxCommentSubject = 256;

    /// <summary>Longest comment message, characters.</summary>
    public const int MaxCommentMessage = 4096;

    /// <summary>Highest max retries a run may be set to (as a spec's <c>max_retries</c>).</summary>
    public const int MaxRetriesLimit = 100;

    /// <summary>Sets the run's dispatch priority: free agents serve runs of higher priority first, equal ones in submission order.</summary>
    public RunActionResult SetPriority(string runId, int priority, ActionOrigin origin)
    {
        if (priority < 0)
        {
            return RunActionResult.Invalid($"priority must be 0 or more (got {priority}): higher numbers are served first");
        }

        lock (_gate)
        {
            if (ControllableLocked(runId, "its priority") is { } refusal)
            {
                return refusal;
            }

            var run = _runs[runId];
            var before = run.DispatchOrder;
            if (before.Priority == priority)
            {
                return RunActionResult.Done();
            }

            _activeRuns.Remove(before);
            (run.Manifest.Controls ??= new RunControls()).Priority = priority;
            _activeRuns[run.DispatchOrder] = run;
            LogControlChanged(run.Id, "priority", before.Priority, priority, origin.By, origin.Via);
            ChangedLocked(mustSee: true);
            EventLocked(run, "priority-changed", $"priority {before.Priority} -> {priority}, set by {origin.By} ({origin.Via}): runs of higher priority get free agents first",
                facts: ControlFacts(origin, before.Priority, priority));
            SaveLocked(run);
            DispatchLocked();
            return RunActionResult.Done();
        }
    }

    /// <summary>Sets the failed attempts tolerated per shard; a shard past the new limit fails the run at its next failure.</summary>
    public RunActionResult SetMaxRetries(string runId, int maxRetries, ActionOrigin origin)
    {
        if (maxRetries is < 0 or > MaxRetriesLimit)
        {
            return RunActionResult.Invalid($"max retries must be 0 to {MaxRetriesLimit}, as a spec's max_retries (got {maxRetries})");
        }

        lock (_gate)
        {
            if (ControllableLocked(runId, "its max retries") is { } refusal)
            {
                return refusal;
            }

            var run = _runs[runId];
            var before = run.MaxRetries;
            if (before == maxRetries)
            {
                return RunActionResult.Done();
            }

            if (maxRetries > before)
            {
                // More attempts mean a bigger manifest: the rounds still to run are judged as a submission is.
                var remaining = run.Spec with { MaxRetries = maxRetries, Rounds = run.Spec.Rounds - Math.Max(1, run.Round) + 1 };
                var projected = ManifestBudget.Projected(run.Manifest, remaining);
                if (projected > _options.MaxManifestBytes)
                {
                    return RunActionResult.Refused($"with max retries {maxRetries} the run's manifest could grow to {projected} bytes, over the limit of {_options.MaxManifestBytes} (Coordinator:MaxManifestBytes): choose fewer retries");
                }
            }

            (run.Manifest.Controls ??= new RunControls()).MaxRetries = maxRetries;
            LogControlChanged(run.Id, "max retries", before, maxRetries, origin.By, origin.Via);
            EventLocked(run, "max-retries-changed", $"max retries {before} -> {maxRetries}, set by {origin.By} ({origin.Via}): failed attempts tolerated per shard before the run fails",
                facts: ControlFacts(origin, before, maxRetries));
            SaveLocked(run);
            return RunActionResult.Done();
        }
    }

    /// <summary>Adds a comment to a live run (an ended run's manifest is sealed).</summary>
    /// <param name="runId">The run's exact id.</param>
    /// <param name="user">Who wrote it, as the request names them.</param>
    /// <param name="subject">Its subject line.</param>
    /// <param name="message">Its text.</param>
    /// <param name="origin">How the request came.</param>
    public RunActionResult AddComment(string runId, string user, string subject, string message, ActionOrigin origin)
    {
        if (subject.Length > MaxCommentSubject || message.Length > MaxCommentMessage)
        {
            return RunActionResult.Invalid($"a comment's subject may be {MaxCommentSubject} characters and its message {MaxCommentMessage} (got {subject.Length} and {message.Length}): shorten it");
        }

        if (subject.Trim().Length == 0 && message.Trim().Length == 0)
        {
            return RunActionResult.Invalid("the comment is empty: give it a subject or a message");
        }

        lock (_gate)
        {
            if (ControllableLocked(runId, "comments") is { } refusal)
            {
                return refusal;
            }

            var run = _runs[runId];
            var comments = run.Manifest.Comments ??= [];
            if (comments.Count >= MaxComments)
            {
                return RunActionResult.Refused($"the run has {comments.Count} comments, the most kept per run (each is part of its manifest)");
            }

            var comment = new RunComment { Number = comments.Count + 1, At = Now, User = AgentText.Cut(user.Length > 0 ? user : origin.By), Subject = subject, Message = message };
            comments.Add(comment);
            ChangedLocked(mustSee: true);
            EventLocked(run, "comment-added", $"comment {comment.Number} by {comment.User} ({origin.Via}): {subject}",
                facts: new JsonObject { ["number"] = comment.Number, ["user"] = comment.User, ["subject"] = subject, ["comment"] = message, ["via"] = AgentText.Cut(origin.Via) });
            SaveLocked(run);
            return RunActionResult.Done();
        }
    }

    /// <summary>The run's comments, oldest first (copies); null when the run is unknown.</summary>
    /// <remarks>An ended run's come from its manifest, read from the store unless it is among the few kept.</remarks>
    public async Task<IReadOnlyList<RunComment>?> CommentsOfAsync(string runId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_runs.TryGetValue(runId, out var run))
            {
                return (run.Manifest.Comments ?? []).Select(c => new RunComment { Number = c.Number, At = c.At, User = c.User, Subject = c.Subject, Message = c.Message }).ToList();
            }

            if (!_ended.TryGet(runId, out _))
            {
                return null;
            }
        }

        // The manifest read is a copy already.
        return (await GetManifestAsync(runId, cancellationToken).ConfigureAwait(false))?.Comments ?? [];
    }

    /// <summary>Why the run's <paramref name="what"/> cannot change now (unknown or ended), or null. Caller holds the lock.</summary>
    private RunActionResult? ControllableLocked(string runId, string what)
    {
        if (_runs.ContainsKey(runId))
        {
            return null;
        }

        return _ended.TryGet(runId, out var ended)
            ? RunActionResult.Refused($"the run has ended ({ended.State}) and its manifest is sealed: {what} can no longer change")
            : RunActionResult.NotFound(runId);
    }

    private static JsonObject ControlFacts(ActionOrigin origin, int from, int to) => new()
    {
        ["from"] = from,
        ["to"] = to,
        ["by"] = AgentText.Cut(origin.By),
        ["via"] = AgentText.Cut(origin.Via),
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: {Control} {Before} -> {After}, set by {By} ({Via})")]
    private partial void LogControlChanged(string runId, string control, int before, int after, string by, string via);
}
