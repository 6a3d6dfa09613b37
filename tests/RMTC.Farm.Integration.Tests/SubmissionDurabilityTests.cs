using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// An acknowledged submission is a stored one: the coordinator answers SubmitJob only once the run's manifest is in
/// the store, so killing Redis and then the coordinator right after the answer loses nothing.
/// </summary>
public sealed class SubmissionDurabilityTests
{
    [Fact]
    public async Task A_submission_is_answered_only_once_stored_so_killing_redis_and_the_coordinator_after_the_answer_loses_nothing()
    {
        using var redis = await Fixtures.RedisServer.StartAsync();
        var root = Directory.CreateTempSubdirectory("rmtc-submit-durable-").FullName;
        var coordinators = new List<CoordinatorProcess>();
        try
        {
            var data = Path.Combine(root, "data");
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", data, 60, seed: 3);
            var port = CoordinatorProcess.FreePort();
            var farmDir = Path.Combine(root, "farm");
            coordinators.Add(await CoordinatorProcess.StartAsync(farmDir, port, redis.Endpoint));
            using var channel = GrpcChannel.ForAddress(coordinators[0].Address);
            var jobs = new JobService.JobServiceClient(channel);
            SubmitJobRequest Spec(string name) => new() { SpecYaml = $"name: {name}\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 1\n", SourceName = $"{name}.yaml" };

            // No agents: runs stay queued. With Redis down, the answer waits for the store instead of promising a run
            // that a crash would lose.
            await redis.KillAsync();
            var during = jobs.SubmitJobAsync(Spec("during-outage"));
            var first = await Task.WhenAny(during.ResponseAsync, Task.Delay(TimeSpan.FromSeconds(3)));
            Assert.False(first == during.ResponseAsync, "SubmitJob answered while the store was down:\n" + coordinators[0].Output);

            // Redis back: the journal's retry lands the manifest, then the answer comes.
            await redis.RestartAsync();
            var answered = (await during.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(60))).Job;
            using (var mux = await redis.ConnectAsync())
            {
                Assert.NotNull(await new RedisRunStore(mux, NullLogger<RedisRunStore>.Instance).GetAsync(answered.Id));
            }

            // Answered, then both killed at once: the restarted coordinator recovers the run from the store.
            var acknowledged = (await jobs.SubmitJobAsync(Spec("acknowledged"))).Job;
            await redis.KillAsync();
            coordinators[0].Kill();
            await redis.RestartAsync();
            coordinators.Add(await CoordinatorProcess.StartAsync(farmDir, port, redis.Endpoint));
            using var channel2 = GrpcChannel.ForAddress(coordinators[1].Address);
            var jobs2 = new JobService.JobServiceClient(channel2);
            foreach (var id in new[] { answered.Id, acknowledged.Id })
            {
                var job = await jobs2.GetJobAsync(new GetJobRequest { JobId = id });
                Assert.True(job.State is JobState.Queued or JobState.Running, $"{id}: {job.State}\n{coordinators[1].Output}");
            }
        }
        finally
        {
            foreach (var c in coordinators)
            {
                c.Dispose();
            }

            Directory.Delete(root, recursive: true);
        }
    }
}
