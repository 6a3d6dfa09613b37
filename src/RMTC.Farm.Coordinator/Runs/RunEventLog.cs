using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// A run's history of events plus live subscribers (WatchJob). Progress events go to subscribers only. After a
/// coordinator restart the history comes from the run's stored event log: a live run's is loaded into memory, an ended
/// run's is read from the store when someone watches it (ended runs are many and rarely watched); a run that ends live
/// drops its history once its last events are in the store.
/// </summary>
public sealed class RunEventLog
{
    private const int MaxHistory = 10_000;
    private readonly object _gate = new();
    private readonly List<RunEvent> _history = new();
    private readonly List<Channel<RunEvent>> _subscribers = new();
    private bool _closed;
    private Func<CancellationToken, Task<IReadOnlyList<LineageEvent>>>? _stored;
    private RunStatus? _storedOutcome;

    /// <summary>Chain entries that were never sent to watchers (the seal follows the final event).</summary>
    private static readonly HashSet<string> ChainOnly = new(StringComparer.Ordinal) { "sealed" };

    /// <summary>True while someone follows the run live: an event that is only sent live (progress) is worth building.</summary>
    public bool HasSubscribers
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count > 0;
            }
        }
    }

    /// <summary>Appends an event; <paramref name="keep"/> false sends it live without keeping it in history.</summary>
    public void Append(RunEvent e, bool keep = true, bool final = false)
    {
        lock (_gate)
        {
            if (keep && _history.Count < MaxHistory)
            {
                _history.Add(e);
            }

            foreach (var sub in _subscribers)
            {
                sub.Writer.TryWrite(e);
                if (final)
                {
                    sub.Writer.TryComplete();
                }
            }

            if (final)
            {
                _closed = true;
                _subscribers.Clear();
            }
        }
    }

    /// <summary>Starts the history of a recovered live run with its stored events (before any new one is appended).</summary>
    public void Restore(string runId, IEnumerable<LineageEvent> stored)
    {
        lock (_gate)
        {
            _history.InsertRange(0, FromChain(runId, stored).Take(MaxHistory - _history.Count));
        }
    }

    /// <summary>
    /// Marks the log as that of an ended run whose events are all in the store (it ended before this coordinator
    /// started, or its last write has landed): its history is read from <paramref name="load"/> when watched, the last
    /// event carrying <paramref name="outcome"/>, and nothing live follows. The history held in memory is dropped.
    /// </summary>
    public void UseStored(Func<CancellationToken, Task<IReadOnlyList<LineageEvent>>> load, RunStatus outcome)
    {
        lock (_gate)
        {
            _stored = load;
            _storedOutcome = outcome;
            _closed = true;
            _history.Clear();
            _history.TrimExcess();
        }
    }

    /// <summary>The history so far, then live events until the run ends or the caller stops.</summary>
    /// <param name="afterSeq">Resume after the event with this seq (0: from the start).</param>
    /// <param name="afterHash">That event's hash; when the history holds no such event, all of it is sent (empty: trust the seq).</param>
    /// <param name="cancellationToken">Ends the subscription.</param>
    public async IAsyncEnumerable<RunEvent> SubscribeAsync(long afterSeq, string afterHash, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        RunEvent[] past;
        Channel<RunEvent>? live = null;
        Func<CancellationToken, Task<IReadOnlyList<LineageEvent>>>? stored;
        RunStatus? outcome;
        lock (_gate)
        {
            past = _history.ToArray();
            stored = _stored;
            outcome = _storedOutcome;
            if (!_closed)
            {
                live = Channel.CreateBounded<RunEvent>(new BoundedChannelOptions(4096) { FullMode = BoundedChannelFullMode.DropOldest });
                _subscribers.Add(live);
            }
        }

        try
        {
            if (stored is not null)
            {
                past = await ReplayStoredAsync(stored, outcome!, cancellationToken);
            }

            var skip = afterSeq > 0 && (afterHash.Length == 0 || past.Any(e => e.Seq == afterSeq && e.Hash == afterHash)) ? afterSeq : 0;
            foreach (var e in past)
            {
                if (e.Seq > skip)
                {
                    yield return e;
                }
            }

            if (live is null)
            {
                yield break;
            }

            await foreach (var e in live.Reader.ReadAllAsync(cancellationToken))
            {
                if (e.Seq == 0 || e.Seq > skip)
                {
                    yield return e;
                }
            }
        }
        finally
        {
            if (live is not null)
            {
                lock (_gate)
                {
                    _subscribers.Remove(live);
                }
            }
        }
    }

    private static async Task<RunEvent[]> ReplayStoredAsync(Func<CancellationToken, Task<IReadOnlyList<LineageEvent>>> load, RunStatus outcome, CancellationToken cancellationToken)
    {
        var events = FromChain(outcome.Id, await load(cancellationToken)).ToArray();
        if (events.Length > 0)
        {
            events[^1] = events[^1] with { Status = outcome };
        }

        return events;
    }

    /// <summary>The watcher's view of stored chain entries: what each event said, without the job as it stood then.</summary>
    private static IEnumerable<RunEvent> FromChain(string runId, IEnumerable<LineageEvent> stored)
    {
        foreach (var entry in stored)
        {
            if (ChainOnly.Contains(entry.Kind))
            {
                continue;
            }

            yield return new RunEvent(
                entry.At,
                runId,
                entry.Kind,
                Text(entry.Data, "message"),
                entry.Data["round"] is JsonValue round && round.TryGetValue<int>(out var r) && r > 0 ? r : 0,
                entry.Data["shard"] is JsonValue shard && shard.TryGetValue<int>(out var s) ? s : -1,
                Text(entry.Data, "agent"),
                entry.Seq,
                entry.Hash,
                null);
        }
    }

    private static string Text(JsonObject data, string key) =>
        data[key] is JsonValue value && value.TryGetValue<string>(out var text) ? text : "";
}
