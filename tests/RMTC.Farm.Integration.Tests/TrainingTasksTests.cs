using System.Globalization;
using Grpc.Net.Client;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// A run's preparation and evaluations are leased to agents like shards: a real `rmtc coordinator` process runs a
/// whole evaluated run with no TorchSharp or libtorch loaded, and a run still waiting for its preparation survives a
/// coordinator restart.
/// </summary>
public sealed class TrainingTasksTests
{
    [Fact]
    public async Task A_coordinator_process_runs_an_evaluated_run_without_loading_libtorch()
    {
        var root = Directory.CreateTempSubdirectory("rmtc-tasks-").FullName;
        var agents = new List<AgentProcess>();
        try
        {
            var source = Path.Combine(root, "data");
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", source, 60, seed: 7);
            var data = EvaluationRunTests.WithTestSplit(source, 20);
            using var coordinator = await CoordinatorProcess.StartAsync(Path.Combine(root, "farm"), CoordinatorProcess.FreePort());
            for (var i = 1; i <= 2; i++)
            {
                agents.Add(AgentProcess.Start(coordinator.Address, $"task-agent-{i}", Path.Combine(root, "agents", $"a{i}")));
            }

            using var channel = GrpcChannel.ForAddress(coordinator.Address);
            var jobs = new JobService.JobServiceClient(channel);
            var job = (await jobs.SubmitJobAsync(new SubmitJobRequest
            {
                SpecYaml = string.Create(CultureInfo.InvariantCulture, $"name: tasks\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 2\nlocal: {{ epochs: 1, batch_size: 8 }}\n"),
                SourceName = "tasks.yaml",
            })).Job;
            Job? done = null;
            await FarmFixture.WaitUntilAsync(() => (done = jobs.GetJob(new GetJobRequest { JobId = job.Id })).State is JobState.Succeeded or JobState.Failed or JobState.Cancelled,
                TimeSpan.FromMinutes(3), () => "the run did not end:\n" + coordinator.Output + string.Concat(agents.Select(a => a.Output)));
            Assert.True(done!.State == JobState.Succeeded, done + "\n" + coordinator.Output);

            // Every round evaluated, its figures on the wire as before, and computed by an agent.
            Assert.All(done.CompletedRounds, r => Assert.True(r.HasEvalAccuracy && r.EvalSamples == 20, r.ToString()));
            var manifest = RunManifest.FromJson((await jobs.GetManifestAsync(new GetJobRequest { JobId = job.Id })).Json);
            Assert.All(manifest.Rounds, r => Assert.Equal(20, r.Evaluation!.Samples));
            var tasks = manifest.Tasks!;
            Assert.Equal([TaskKinds.Prepare, TaskKinds.Evaluate, TaskKinds.Evaluate], tasks.Select(t => t.Kind));
            Assert.Equal(manifest.InitialWeightsDigest, tasks[0].OutputDigest);
            Assert.Equal([manifest.Rounds[0].OutputDigest, manifest.Rounds[1].OutputDigest], tasks.Skip(1).Select(t => t.InputDigest));
            Assert.All(tasks, t =>
            {
                var last = t.Attempts[^1];
                Assert.Equal(AttemptOutcomes.Succeeded, last.Outcome);
                Assert.StartsWith("task-agent-", last.AgentId);
                Assert.True(last.LeaseEpoch > 0 && last.EndedAt >= last.StartedAt);
            });
            Assert.False(string.IsNullOrEmpty(manifest.Code.TorchSharpVersion));

            // The coordinator process never mapped libtorch or TorchSharp's native library.
            var maps = await File.ReadAllTextAsync($"/proc/{coordinator.Process.Id}/maps");
            Assert.DoesNotContain("libtorch", maps, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("LibTorchSharp", maps, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("TorchSharp.dll", maps, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("RMTC.Farm.Coordinator.dll", maps, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var a in agents)
            {
                a.Dispose();
            }

            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    [Fact]
    public async Task A_run_waiting_for_its_preparation_is_prepared_after_a_coordinator_restart()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = EvaluationRunTests.WithTestSplit(farm, 60, 20);
        var job = await farm.SubmitAsync($"name: restarted\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 1\n");
        Assert.Equal(0, farm.Scheduler.GetJob(job.Id)!.CurrentRound);

        // No agent yet: the preparation waits in the queue, and the stored manifest has no initial weights.
        await farm.RestartCoordinatorAsync(TimeSpan.Zero);
        await farm.StartAgentsAsync(2);
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));

        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");
        var manifest = farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(manifest.InitialWeightsDigest, manifest.Rounds[0].InputDigest);
        Assert.Equal(manifest.InitialWeightsDigest, manifest.Tasks![0].OutputDigest);
        Assert.NotNull(manifest.Rounds[0].Evaluation);
    }
}
