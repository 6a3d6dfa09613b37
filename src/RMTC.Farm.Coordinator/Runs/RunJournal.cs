using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// Writes each run's events and manifest to the store in the order they happened, off the scheduler's lock and off
/// the shard hot path. A write that fails (Redis restarting) is retried with backoff until it lands, so nothing
/// recorded is lost; a manifest snapshot already superseded by a newer one queued behind it is skipped.
/// </summary>
public sealed partial class RunJournal(IRunStore store, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<RunJournal> log)
{
    /// <summary>Queues events then the manifest snapshot behind the run's previous writes; the task ends when both landed.</summary>
    internal Task Enqueue(RunState run, RunManifest snapshot, long version, IReadOnlyList<LineageEvent> events, IReadOnlyList<LineageIndexEntry> index)
    {
        var task = WriteAfterAsync(run.WriteTail, run, snapshot, version, events, index);
        run.WriteTail = task;
        return task;
    }

    private async Task WriteAfterAsync(Task previous, RunState run, RunManifest snapshot, long version, IReadOnlyList<LineageEvent> events, IReadOnlyList<LineageIndexEntry> index)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (events.Count > 0)
        {
            await RetryAsync(run.Id, "events", ct => store.AppendEventsAsync(run.Id, events, ct));
        }

        if (index.Count > 0)
        {
            await RetryAsync(run.Id, "index", ct => store.IndexAsync(index, ct));
        }

        if (Volatile.Read(ref run.LatestVersion) == version)
        {
            await RetryAsync(run.Id, "manifest", ct => store.SaveAsync(snapshot, version, ct));
        }
    }

    private async Task RetryAsync(string runId, string what, Func<CancellationToken, Task> write)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await write(lifetime.ApplicationStopping);
                if (attempt > 1)
                {
                    LogRecovered(runId, what, attempt);
                }

                return;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or System.Text.Json.JsonException)
            {
                // Not an outage: retrying cannot help. Say so loudly; later writes of the run still go through.
                LogRejected(runId, what, e.Message);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException && !lifetime.ApplicationStopping.IsCancellationRequested)
            {
                LogRetrying(runId, what, attempt, delay.TotalSeconds, e.Message);
                await Task.Delay(delay, time, lifetime.ApplicationStopping);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: writing {What} failed (attempt {Attempt}), retrying in {Seconds:F1} s: {Reason}")]
    private partial void LogRetrying(string runId, string what, int attempt, double seconds, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId}: the store refused {What}: {Reason}")]
    private partial void LogRejected(string runId, string what, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: {What} written after {Attempt} attempts")]
    private partial void LogRecovered(string runId, string what, int attempt);
}
