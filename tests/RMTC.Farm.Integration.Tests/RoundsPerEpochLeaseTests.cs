using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// A run whose epoch is spread over two rounds (<c>local.rounds_per_epoch: 2</c>), driven through the scheduler: each
/// round's lease carries half the shard, the two halves of an epoch are the whole shard, and the learning rate steps
/// per epoch.
/// </summary>
public sealed class RoundsPerEpochLeaseTests : IAsyncLifetime
{
    private readonly SchedulerHarness _farm = new("rmtc-rounds-per-epoch-", "2026-12-08T10:00:00Z", leaseTimeoutMs: 60_000, samples: 30);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _farm.DisposeAsync().AsTask();

    [Fact]
    public async Task Each_round_leases_half_the_shard_and_an_epochs_two_rounds_cover_it()
    {
        var registration = _farm.Scheduler.Register(SchedulerInputs.Registration("a"));
        var inbox = _farm.Scheduler.Connect("a", registration.SessionToken);
        var job = _farm.Scheduler.SubmitPrepared(new JobSubmission
        {
            SpecYaml = $"name: t\nrecipe: classifier\ndataset: {_farm.Data}\nshards: 1\nrounds: 4\n"
                + "local: { learning_rate: 0.05, learning_rate_schedule: cosine, final_learning_rate: 0.005, rounds_per_epoch: 2 }\n",
            SourceName = "t.yaml",
        });

        var leases = new List<WorkOrder>();
        for (var round = 1; round <= 4; round++)
        {
            var lease = SchedulerHarness.Assigned(inbox);
            Assert.Equal((WorkKind.Shard, round), (lease.Kind, lease.Round));
            leases.Add(lease);
            var decision = await _farm.DeliverAsync("a", lease, 0.01f, samples: lease.SampleIndices.Count);
            Assert.Equal(UploadVerdict.Accept, decision.Verdict);
        }

        Assert.All(leases, l => Assert.Equal(15, l.SampleIndices.Count));
        var shard = Enumerable.Range(0, 30).ToArray();
        Assert.Equal(shard, leases[0].SampleIndices.Concat(leases[1].SampleIndices).Order());
        Assert.Equal(shard, leases[2].SampleIndices.Concat(leases[3].SampleIndices).Order());
        Assert.NotEqual(leases[0].SampleIndices.Order(), leases[2].SampleIndices.Order());
        // Two epochs under a cosine from 0.05 to 0.005: each epoch's rounds share its rate.
        Assert.Equal([0.05, 0.05, 0.005, 0.005], leases.Select(l => Math.Round(l.LearningRate, 9)));

        var manifest = _farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(RunStates.Succeeded, manifest.State);
        Assert.All(manifest.Rounds, r => Assert.Equal(15, r.Shards[0].Samples));
        Assert.Equal(2, manifest.Spec!.Local.RoundsPerEpoch);
    }
}
