using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// Ended runs are kept as summaries and their manifests read from the store: every question about an ended run gets
/// the answer it got when the whole manifest was held, after it ended live and after a restart, past the cache's size.
/// </summary>
public sealed class EndedRunTests : IAsyncLifetime
{
    private static readonly ActionOrigin Alice = new("alice", "test");
    private readonly SchedulerHarness _farm = new("rmtc-ended-", "2026-11-23T10:00:00Z", leaseTimeoutMs: 5000);

    private RunStatus Submit(int i) => _farm.Scheduler.SubmitPrepared(new JobSubmission
    {
        SpecYaml = $"name: ended-{i}\nrecipe: classifier\ndataset: {_farm.Data}\nshards: 2\nrounds: 1\n",
        SourceName = "test.yaml",
    });

    [Fact]
    public async Task A_run_that_ended_answers_as_before_from_its_summary_and_the_store()
    {
        var job = Submit(0);
        Assert.Equal(RunActionVerdict.Done, _farm.Scheduler.AddComment(job.Id, "alice", "note", "kept", Alice).Verdict);
        var cancelled = _farm.Scheduler.Cancel(job.Id, "enough")!;
        Assert.Equal(RunStates.Cancelled, cancelled.State);
        await _farm.Scheduler.FlushAsync();

        var manifest = (await _farm.Scheduler.GetManifestAsync(job.Id))!;
        Assert.Equal((RunStates.Cancelled, "enough"), (manifest.State, manifest.Error));
        Assert.NotNull(manifest.Seal);
        Assert.Equal(manifest.ToJson(), (await new FileRunStore(Options.Create(new CoordinatorOptions { DataDirectory = Path.Combine(_farm.Root, "farm") })).GetAsync(job.Id))!.ToJson());
        Assert.Equal("kept", Assert.Single((await _farm.Scheduler.CommentsOfAsync(job.Id))!).Message);
        Assert.Equal(Ended(cancelled), Ended(_farm.Scheduler.GetJob(job.Id)!));
        Assert.Equal(Ended(cancelled), Ended(_farm.Scheduler.Cancel(job.Id, "again")!));
        Assert.Equal(job.Id, Assert.Single(_farm.Scheduler.ListJobs()).Id);
        Assert.Equal(RunStates.Cancelled, _farm.Scheduler.SetPaused(job.Id, true)!.State);
        Assert.Contains("has ended (cancelled)", _farm.Scheduler.AddComment(job.Id, "alice", "late", "", Alice).Reason);
        Assert.Contains("has finished (cancelled)", (await _farm.Scheduler.ActOnShardsAsync(job.Id, ShardAction.Retry, [0], Alice, strict: true)).Reason);
        Assert.True(_farm.Scheduler.TryGetShow(job.Id[..12], out _));
        await _farm.Scheduler.WhenRecordedAsync(job.Id, CancellationToken.None);

        // A watcher gets the whole history and the run as it ended.
        var events = await Collect(_farm.Scheduler.Watch(job.Id, 0, "", CancellationToken.None)!);
        Assert.Equal("submitted", events[0].Kind);
        Assert.Equal(RunStates.Cancelled, events[^1].Kind);
        Assert.Equal(Ended(cancelled), Ended(events[^1].Status!));
    }

    [Fact]
    public async Task After_a_restart_ended_runs_past_the_cache_are_read_from_the_store_one_by_one()
    {
        var jobs = new List<RunStatus>();
        for (var i = 0; i < EndedRuns.DefaultCached + 8; i++)
        {
            // Recovery orders runs by submission time.
            _farm.Time.Advance(TimeSpan.FromSeconds(1));
            jobs.Add(_farm.Scheduler.Cancel(Submit(i).Id, $"stop {i}")!);
        }

        await _farm.Scheduler.FlushAsync();

        var options = Options.Create(new CoordinatorOptions { DataDirectory = Path.Combine(_farm.Root, "farm"), LeaseTimeoutMs = 5000 });
        var store = new FileRunStore(options);
        var restarted = new FarmScheduler(new RunJournal(store, _farm.Time, new TestLifetime(), NullLogger<RunJournal>.Instance), new FileArtifactStore(options), _farm.Time, options, NullLogger<FarmScheduler>.Instance);
        Assert.Equal(0, await restarted.RecoverAsync(store, CancellationToken.None));

        Assert.Equal(jobs.Select(j => j.Id).Reverse(), restarted.ListJobs().Select(j => j.Id));
        Assert.Equal(jobs.Select(j => j.Id).Reverse(), restarted.View.Runs.Select(r => r.Id));
        // Twice round: the second pass finds none of the first ones still cached.
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var job in jobs)
            {
                var manifest = (await restarted.GetManifestAsync(job.Id))!;
                Assert.Equal((job.Id, RunStates.Cancelled, job.Error), (manifest.RunId, manifest.State, manifest.Error));
                Assert.Equal(job.Error, restarted.GetJob(job.Id)!.Error);
            }
        }

        var events = await Collect(restarted.Watch(jobs[0].Id, 0, "", CancellationToken.None)!);
        Assert.Equal(RunStates.Cancelled, events[^1].Kind);
        Assert.Equal(RunStates.Cancelled, events[^1].Status!.State);
    }

    [Fact]
    public async Task A_run_saved_again_after_it_failed_lets_go_of_its_manifest_once_the_last_write_landed()
    {
        var registration = _farm.Scheduler.Register(SchedulerInputs.Registration("a"));
        var inbox = _farm.Scheduler.Connect("a", registration.SessionToken);
        var job = _farm.Scheduler.SubmitPrepared(new JobSubmission
        {
            SpecYaml = $"name: fails\nrecipe: classifier\ndataset: {_farm.Data}\nshards: 1\nrounds: 1\nmax_retries: 0\n",
            SourceName = "test.yaml",
        });
        var lease = SchedulerHarness.Assigned(inbox);

        // A refused result past max_retries fails the run, and the refusal saves the run once more after it ended.
        _farm.Scheduler.RefuseUpload(SchedulerInputs.Upload(lease, "a", new string('0', 64)), "corrupt bytes");
        Assert.Equal(RunStates.Failed, _farm.Scheduler.GetJob(job.Id)!.State);
        await _farm.Scheduler.FlushAsync();

        await FarmFixture.WaitUntilAsync(() => _farm.Scheduler.EndedManifestsHeld == 0, TimeSpan.FromSeconds(30), () => "the failed run's manifest is still held after its writes landed");
        var manifest = (await _farm.Scheduler.GetManifestAsync(job.Id))!;
        Assert.Equal(RunStates.Failed, manifest.State);
        Assert.Equal(AttemptOutcomes.Refused, Assert.Single(manifest.Rounds[0].Attempts).Outcome);
        Assert.NotNull(manifest.Seal);
    }

    private static (string State, string Error, DateTimeOffset? FinishedAt, int Round) Ended(RunStatus s) => (s.State, s.Error, s.FinishedAt, s.CurrentRound);

    private static async Task<List<RunEvent>> Collect(IAsyncEnumerable<RunEvent> events)
    {
        var all = new List<RunEvent>();
        await foreach (var e in events)
        {
            all.Add(e);
        }

        return all;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _farm.DisposeAsync().AsTask();
}
