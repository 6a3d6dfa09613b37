using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// A run that keeps changing while its writes are in flight still gets its manifest stored: the journal takes every
/// change not yet written together with the manifest they leave, instead of chasing them one batch at a time. (A CI
/// machine under load held a demo's SubmitJob answer until the run ended that way.)
/// </summary>
public sealed class JournalCatchUpTests
{
    [Fact]
    public async Task A_run_that_changes_during_every_events_write_is_stored_after_two_writes_not_when_the_changes_stop()
    {
        ChangingStore? store = null;
        await using var farm = new SchedulerHarness("rmtc-journal-catchup-", "2026-12-08T10:00:00Z", leaseTimeoutMs: 60_000, samples: 20,
            wrapStore: inner => store = new ChangingStore(inner));
        var scheduler = farm.Scheduler;

        // Every events write of the run changes it again (a wrangler's priority here; on a farm, leases and results),
        // 20 times in all.
        var job = scheduler.SubmitPrepared(new JobSubmission { SpecYaml = $"name: t\nrecipe: classifier\ndataset: {farm.Data}\nshards: 2\nrounds: 1\n", SourceName = "t.yaml" });
        var stored = scheduler.WhenRecordedAsync(job.Id, CancellationToken.None);
        var verdicts = new System.Collections.Concurrent.ConcurrentBag<RunActionVerdict>();
        store!.OnAppend = n =>
        {
            if (stored.IsCompleted && store.StoredAtAppend == 0)
            {
                store.StoredAtAppend = n;
            }

            if (n <= 20)
            {
                verdicts.Add(scheduler.SetPriority(job.Id, n, new ActionOrigin("tester", "test")).Verdict);
            }
        };
        scheduler.SetPriority(job.Id, 100, new ActionOrigin("tester", "test"));

        await stored.WaitAsync(TimeSpan.FromSeconds(60));
        // The changes go on after that: the last one is made during the 20th write, and written by the 21st.
        await FarmFixture.WaitUntilAsync(() => store.Appends > 20, TimeSpan.FromSeconds(60), () => $"only {store.Appends} events writes");
        await scheduler.FlushAsync();
        // Stored while the changes were still coming: with the chase it landed only after the 20th.
        Assert.InRange(store.StoredAtAppend, 1, 5);
        Assert.All(verdicts, v => Assert.Equal(RunActionVerdict.Done, v));
        Assert.Equal(20, (await store.GetAsync(job.Id))!.Controls!.Priority);
    }

    /// <summary>The file store, with a hook run inside each events write (while the journal's writer waits on it).</summary>
    private sealed class ChangingStore(IRunStore inner) : IRunStore
    {
        public Action<int>? OnAppend { get; set; }

        public int Appends { get; private set; }

        /// <summary>The events write during which the run was first seen stored (0: not yet).</summary>
        public int StoredAtAppend { get; set; }

        public async Task AppendEventsAsync(string runId, IReadOnlyList<LineageEvent> events, CancellationToken cancellationToken = default)
        {
            await inner.AppendEventsAsync(runId, events, cancellationToken);
            Appends++;
            OnAppend?.Invoke(Appends);
        }

        public Task SaveAsync(RunManifest manifest, long version, CancellationToken cancellationToken = default) => inner.SaveAsync(manifest, version, cancellationToken);

        public Task SaveAsync(string runId, string manifestJson, long version, CancellationToken cancellationToken = default) => inner.SaveAsync(runId, manifestJson, version, cancellationToken);

        public Task<ManifestWriteResult> SavePartsAsync(string runId, ManifestParts parts, CancellationToken cancellationToken = default) => inner.SavePartsAsync(runId, parts, cancellationToken);

        public Task<RunManifest?> GetAsync(string runId, CancellationToken cancellationToken = default) => inner.GetAsync(runId, cancellationToken);

        public Task<IReadOnlyList<RunManifest>> ListAsync(CancellationToken cancellationToken = default) => inner.ListAsync(cancellationToken);

        public Task<IReadOnlyList<LineageEvent>> ReadEventsAsync(string runId, CancellationToken cancellationToken = default) => inner.ReadEventsAsync(runId, cancellationToken);

        public Task IndexAsync(IReadOnlyList<LineageIndexEntry> entries, CancellationToken cancellationToken = default) => inner.IndexAsync(entries, cancellationToken);

        public Task<IReadOnlyList<string>> LookupAsync(string kind, string digest, CancellationToken cancellationToken = default) => inner.LookupAsync(kind, digest, cancellationToken);

        public Task ClearIndexAsync(CancellationToken cancellationToken = default) => inner.ClearIndexAsync(cancellationToken);

        public Task AppendDerivationAsync(string runId, DerivationRecord record, CancellationToken cancellationToken = default) => inner.AppendDerivationAsync(runId, record, cancellationToken);

        public Task<IReadOnlyList<DerivationRecord>> ReadDerivationsAsync(string runId, CancellationToken cancellationToken = default) => inner.ReadDerivationsAsync(runId, cancellationToken);

        public Task<LeaseEpochBlock> ReserveLeaseEpochsAsync(string runId, long floor, int count, CancellationToken cancellationToken = default) => inner.ReserveLeaseEpochsAsync(runId, floor, count, cancellationToken);
    }
}
