using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// Writes each run's events and manifest to the store in the order they happened, off the scheduler's lock and off
/// the shard hot path. A write that fails (Redis restarting) is retried with backoff until it lands, so nothing
/// recorded is lost.
/// </summary>
/// <remarks>
/// Group commit: while one write of a run is in flight, and for <c>commitWindow</c> after a change, later changes
/// gather in one batch, written next as a single append of their events, one index call and one manifest write. The
/// manifest is written incrementally (<see cref="ManifestTracker"/>): when its write comes up, what changed since the
/// last write is taken under the scheduler's lock (small parts serialised, changed records copied), serialised after
/// the lock is released, and stored in one atomic step on top of the previous write (<see cref="IRunStore.SavePartsAsync"/>);
/// an ended run is written whole. A batch counts as stored only once a manifest write that includes it has landed:
/// recovery starts from the manifest, so an acknowledgement never runs ahead of it.
/// </remarks>
/// <param name="store">Where events, index entries and manifests go.</param>
/// <param name="time">The clock of the commit window and of retry backoff.</param>
/// <param name="lifetime">Stopping ends retries (a write under way still finishes).</param>
/// <param name="log">Retries, refusals and recoveries.</param>
/// <param name="commitWindow">How long a batch gathers changes before it is written (<c>Coordinator:JournalCommitWindowMs</c>); zero: at once.</param>
public sealed partial class RunJournal(IRunStore store, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<RunJournal> log, TimeSpan commitWindow = default)
{
    /// <summary>The version a <see cref="ManifestSnapshot"/> is asked for to catch up: the run's latest (see its parameter).</summary>
    internal const long Latest = -1;

    /// <summary>The store the journal writes to (ended runs' manifests and logs are read back from it).</summary>
    internal IRunStore Store => store;

    /// <summary>
    /// Queues a change's events, then the manifest as of <paramref name="version"/> or later, behind the run's previous
    /// writes; the task ends when they landed. Callers enqueue in the order the changes happened (under their lock).
    /// </summary>
    /// <param name="run">The run whose write queue this joins.</param>
    /// <param name="version">The run's version after the change being recorded.</param>
    /// <param name="events">Chained events of the change, appended in order.</param>
    /// <param name="index">Reverse-index entries of the change.</param>
    /// <param name="reserveEpochs">
    /// Lease epochs to reserve before anything else of the batch is written (a new run's first block, so that a stored
    /// manifest always implies its reservation); 0: none.
    /// </param>
    /// <param name="snapshot">
    /// Takes what the manifest write carries under the owner's lock when its write comes up; returns null when the run
    /// changed after the given version (the batch holding that newer change writes the manifest, and this batch counts
    /// as stored when that one is).
    /// </param>
    internal Task Enqueue(RunState run, long version, IReadOnlyList<LineageEvent> events, IReadOnlyList<LineageIndexEntry> index, int reserveEpochs, ManifestSnapshot snapshot)
    {
        var journal = run.Journal;
        lock (journal)
        {
            var batch = journal.Open ??= new JournalBatch();
            batch.Events.AddRange(events);
            batch.Index.AddRange(index);
            batch.ReserveEpochs += reserveEpochs;
            batch.Version = version;
            if (!journal.Writing)
            {
                journal.Writing = true;
                _ = Task.Run(() => WriteLoopAsync(run, snapshot));
            }

            return batch.Done.Task;
        }
    }

    /// <summary>
    /// When set (tests), every manifest written in parts is read back and compared with the whole document as it stood
    /// when the write was taken; differences are logged and kept in <see cref="Mismatches"/>.
    /// </summary>
    internal bool VerifyWrites { get; set; }

    /// <summary>Differences found by <see cref="VerifyWrites"/>, one line each.</summary>
    internal System.Collections.Concurrent.ConcurrentQueue<string> Mismatches { get; } = new();

    private async Task WriteLoopAsync(RunState run, ManifestSnapshot snapshot)
    {
        var journal = run.Journal;
        // Batches whose events are written but whose manifest is not yet: they are stored once a later manifest lands.
        var unstored = new List<JournalBatch>();
        while (true)
        {
            if (commitWindow > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(commitWindow, time, lifetime.ApplicationStopping);
                }
                catch (OperationCanceledException)
                {
                    // Stopping: write what has gathered now (the host flushes the journal before it ends).
                }
            }

            JournalBatch batch;
            lock (journal)
            {
                if (journal.Open is null)
                {
                    journal.Writing = false;
                    // Never left here: a batch without its manifest means a newer change, whose batch is open.
                    foreach (var waiting in unstored)
                    {
                        waiting.Done.TrySetResult();
                    }

                    return;
                }

                batch = journal.Open;
                journal.Open = null;
            }

            try
            {
                unstored.Add(batch);
                await WriteBatchAsync(run, batch);
                var capture = snapshot(run, batch.Version, false, VerifyWrites);
                if (capture is null)
                {
                    // The run changed while the batch was written. Chasing the changes a batch at a time can lag for as
                    // long as they keep coming (a busy run's manifest, and the submission and results waiting on it,
                    // held back for seconds under load): take every change not yet written and the manifest as they
                    // leave it at one instant, write their events, then the manifest.
                    capture = snapshot(run, Latest, false, VerifyWrites);
                    JournalBatch? newer;
                    lock (journal)
                    {
                        newer = journal.CaughtUp;
                        journal.CaughtUp = null;
                    }

                    if (newer is not null)
                    {
                        unstored.Add(newer);
                        await WriteBatchAsync(run, newer);
                    }
                }

                if (capture is not null)
                {
                    await WriteManifestAsync(run, capture, snapshot);
                    journal.Stored.TrySetResult();
                    foreach (var stored in unstored)
                    {
                        stored.Done.TrySetResult();
                    }

                    unstored.Clear();
                }
            }
            catch (Exception e)
            {
                // Only shutdown ends retrying: whoever waits hears why, and the next change starts a new writer, whose
                // first manifest write is whole (what landed of this one is unknown).
                run.Recording.Landed(new ManifestCapture(batch.Version, null), ManifestWriteResult.NotWritten);
                JournalBatch? next;
                lock (journal)
                {
                    next = journal.Open;
                    journal.Open = null;
                    journal.Writing = false;
                }

                batch.Done.TrySetException(e);
                foreach (var waiting in unstored)
                {
                    waiting.Done.TrySetException(e);
                }

                next?.Done.TrySetException(e);
                journal.Stored.TrySetException(e);
                return;
            }
        }
    }

    /// <summary>A batch's lease-epoch reservation, events and index entries, in that order.</summary>
    private async Task WriteBatchAsync(RunState run, JournalBatch batch)
    {
        if (batch.ReserveEpochs > 0)
        {
            await RetryAsync(run.Id, "lease epochs", ct => store.ReserveLeaseEpochsAsync(run.Id, 0, batch.ReserveEpochs, ct), rethrowRejected: true);
        }

        if (batch.Events.Count > 0)
        {
            await RetryAsync(run.Id, "events", ct => store.AppendEventsAsync(run.Id, batch.Events, ct));
        }

        if (batch.Index.Count > 0)
        {
            await RetryAsync(run.Id, "index", ct => store.IndexAsync(batch.Index, ct));
        }
    }

    /// <summary>
    /// Writes what <paramref name="capture"/> holds: an ended run's whole document, or the changed parts, serialised
    /// here, off the scheduler's lock. A store that lost the parts' base gets every part, taken afresh.
    /// </summary>
    private async Task WriteManifestAsync(RunState run, ManifestCapture capture, ManifestSnapshot snapshot)
    {
        if (capture.Whole is { } json)
        {
            await RetryAsync(run.Id, "manifest", ct => store.SaveAsync(run.Id, json, capture.Version, ct));
            run.Recording.Landed(capture, ManifestWriteResult.Written);
            return;
        }

        var parts = capture.ToParts();
        var result = ManifestWriteResult.NotWritten;
        await RetryAsync(run.Id, "manifest", async ct => result = await store.SavePartsAsync(run.Id, parts, ct));
        run.Recording.Landed(capture, result);
        if (result == ManifestWriteResult.BaseMissing)
        {
            LogBaseMissing(run.Id, capture.Version);
            if (snapshot(run, capture.Version, true, VerifyWrites) is { } whole)
            {
                await WriteManifestAsync(run, whole, snapshot);
            }

            return;
        }

        if (result == ManifestWriteResult.Written && capture.Expected is { } expected
            && (await store.GetAsync(run.Id))?.ToJson() is var stored && stored != expected)
        {
            var line = $"run {run.Id} version {capture.Version}: the store assembles a manifest that differs from the one written ({(stored is null ? "none" : $"{stored.Length} against {expected.Length} characters")})";
            Mismatches.Enqueue(line);
            LogMismatch(line);
        }
    }

    /// <summary>
    /// Reserves lease epochs of a run in the store (<see cref="IRunStore.ReserveLeaseEpochsAsync"/>), retried with
    /// backoff through an outage like every write, beside the run's write queue (a reservation orders nothing else).
    /// Throws only at shutdown or when the store refuses the request.
    /// </summary>
    internal async Task<LeaseEpochBlock> ReserveLeaseEpochsAsync(string runId, long floor, int count)
    {
        LeaseEpochBlock? block = null;
        await RetryAsync(runId, "lease epochs", async ct => block = await store.ReserveLeaseEpochsAsync(runId, floor, count, ct), rethrowRejected: true);
        return block!;
    }

    private async Task RetryAsync(string runId, string what, Func<CancellationToken, Task> write, bool rethrowRejected = false)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // A write under way finishes when the coordinator stops (its StopAsync flushes the journal): cancelling
                // it would lose a change already acknowledged, e.g. a run just submitted. Stopping ends only the retries.
                await write(CancellationToken.None);
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
                if (rethrowRejected)
                {
                    throw;
                }

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: the store does not hold the manifest this write of version {Version} builds on (another coordinator wrote it, or the store lost writes); writing every part")]
    private partial void LogBaseMissing(string runId, long version);

    [LoggerMessage(Level = LogLevel.Error, Message = "Manifest written in parts does not read back: {Line}")]
    private partial void LogMismatch(string line);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: {What} written after {Attempt} attempts")]
    private partial void LogRecovered(string runId, string what, int attempt);
}
