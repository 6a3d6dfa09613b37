using System.Runtime.CompilerServices;
using System.Threading.Channels;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>A run's history of events plus live subscribers (WatchJob). Progress events go to subscribers only.</summary>
public sealed class RunEventLog
{
    private const int MaxHistory = 10_000;
    private readonly object _gate = new();
    private readonly List<JobEvent> _history = new();
    private readonly List<Channel<JobEvent>> _subscribers = new();
    private bool _closed;

    /// <summary>Appends an event; <paramref name="keep"/> false sends it live without keeping it in history.</summary>
    public void Append(JobEvent e, bool keep = true, bool final = false)
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

    /// <summary>The history so far, then live events until the run ends or the caller stops.</summary>
    public async IAsyncEnumerable<JobEvent> SubscribeAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        JobEvent[] past;
        Channel<JobEvent>? live = null;
        lock (_gate)
        {
            past = _history.ToArray();
            if (!_closed)
            {
                live = Channel.CreateBounded<JobEvent>(new BoundedChannelOptions(4096) { FullMode = BoundedChannelFullMode.DropOldest });
                _subscribers.Add(live);
            }
        }

        try
        {
            foreach (var e in past)
            {
                yield return e;
            }

            if (live is null)
            {
                yield break;
            }

            await foreach (var e in live.Reader.ReadAllAsync(cancellationToken))
            {
                yield return e;
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
}
