using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Grpc.Core;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Protos.V1;
using Xunit.Abstractions;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// Your own model on the farm, with real agent processes: the committed TorchScript examples (farm/models) trained to
/// completion by FedAvg over shards, fetched by digest, merged with their BatchNorm buffers, preempted and resumed
/// exactly, recorded with the file's digest, licence and origin in lineage; and refused at submission naming the file.
/// </summary>
public sealed class ScriptedModelFarmTests(ITestOutputHelper output)
{
    private static readonly string Models = Path.Combine(FarmOperationsTests.RepoRoot(), "farm", "models");

    private static string Spec(string name, string file, string task, string loss, string data, int shards, int rounds, string local, long seed = 7) => $"""
        name: {name}
        model:
          file: {Path.Combine(Models, file)}
          task: {task}
          loss: {loss}
          licence: Apache-2.0
          origin: fine-tuned from weights X under licence Y
        dataset: {data}
        shards: {shards}
        rounds: {rounds}
        seed: {seed}
        local: {local}
        """;

    private static string Sha256Of(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Theory]
    [InlineData("unet_denoiser.pt", "image-pairs", "l1", "denoiser", "{ epochs: 1, batch_size: 16, learning_rate: 0.002 }")]
    [InlineData("resnet_classifier_synth.pt", "labelled-images", "cross_entropy", "classifier", "{ epochs: 1, batch_size: 16, learning_rate: 0.05, optimizer: sgd, momentum: 0.9, weight_decay: 0.0001 }")]
    public async Task An_example_model_trains_on_the_farm_to_completion_fetched_by_digest_and_traced_to_its_file(string file, string task, string loss, string recipe, string local)
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 20_000);
        var data = farm.Synthesize(recipe, 48);
        await farm.StartAgentsAsync(2);
        var job = await farm.SubmitAsync(Spec("own-model", file, task, loss, data, shards: 2, rounds: 2, local));
        Assert.Equal("torchscript", job.Recipe);

        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(5));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");

        // The file is the run's code: stored by digest beside rmtc's version, fetched by the agents from the store.
        var m = farm.Scheduler.GetManifest(job.Id)!;
        var digest = Sha256Of(Path.Combine(Models, file));
        Assert.Equal(digest, m.Code.ModelDigest);
        Assert.Equal(new FileInfo(Path.Combine(Models, file)).Length, m.Code.ModelBytes);
        Assert.True(farm.Artifacts.Exists(digest, ArtifactKind.TorchScript));
        Assert.All(farm.Agents, a => Assert.True(File.Exists(Path.Combine(farm.Root, "agents", a.Id, "cache", "sha256", digest + ".pt")), a.Output));

        // Initial weights are the module's own state as saved; the final model keeps every state tensor with its dtype.
        var initial = farm.Artifacts.ReadWeights(m.InitialWeightsDigest);
        Assert.Equal(digest, initial.Metadata["rmtc.model"]);
        var final = farm.Artifacts.ReadWeights(m.FinalModelDigest!).Tensors;
        Assert.Equal(initial.Tensors.Select(t => (t.Name, t.DType)), final.Select(t => (t.Name, t.DType)));
        Assert.Contains(final, t => t.DType == TensorDType.I64 && t.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal));
        if (m.Evaluation is not null)
        {
            Assert.All(m.Rounds, r => Assert.NotNull(r.Evaluation));
        }

        // Rights: the file's licence and origin are in the closure.
        Assert.Contains("Apache-2.0", m.LicenceClosure!.Licences);
        Assert.Contains(m.LicenceClosure.Sources, s => s == $"model:{file} sha256:{digest} (fine-tuned from weights X under licence Y)");

        // Lineage: up from the model reaches the file; down and impact from the file's digest reach the run.
        var lineage = new LineageService.LineageServiceClient(farm.Channel);
        var up = JsonNode.Parse((await lineage.TraceAsync(new TraceRequest { Digest = m.FinalModelDigest, Direction = TraceDirection.Up })).Json)!;
        var modelFile = up["producedBy"]![0]!["modelFile"]!;
        Assert.Equal(digest, modelFile["digest"]!.GetValue<string>());
        Assert.Equal("Apache-2.0", modelFile["licence"]!.GetValue<string>());
        Assert.Equal("fine-tuned from weights X under licence Y", modelFile["origin"]!.GetValue<string>());
        var down = JsonNode.Parse((await lineage.TraceAsync(new TraceRequest { Digest = digest, Direction = TraceDirection.Down })).Json)!;
        var use = Assert.Single(down["usedBy"]!.AsArray())!;
        Assert.Equal(job.Id, use["runId"]!.GetValue<string>());
        Assert.Equal("code", use["usedAs"]!.GetValue<string>());
        var impact = JsonNode.Parse((await lineage.ImpactAsync(new ImpactRequest { AssetDigest = "sha256:" + digest })).Json)!;
        var affected = Assert.Single(impact["affected"]!.AsArray())!;
        Assert.Equal(m.FinalModelDigest, affected["model"]!.GetValue<string>());
        Assert.Equal("model file", affected["usedAs"]!.GetValue<string>());
        Assert.Contains($"file: \"{Path.Combine(Models, file)}\"", affected["retrainSpec"]!.GetValue<string>());

        var cli = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "trace", m.FinalModelDigest!, "--up", "--coordinator", farm.Address);
        Assert.Contains($"model file sha256:{digest}", cli.Output);
        var show = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "show", job.Id, "--coordinator", farm.Address);
        Assert.Contains($"model file sha256:{digest} ({Path.Combine(Models, file)}), licence Apache-2.0, origin: fine-tuned from weights X under licence Y", show.Output);
        var provenance = JsonNode.Parse((await lineage.ExportAsync(new ExportRequest { RunId = job.Id, Format = "in-toto" })).Json)!;
        var dependency = provenance["predicate"]!["buildDefinition"]!["resolvedDependencies"]!.AsArray().Single(d => d!["name"]!.GetValue<string>() == $"model:{Path.GetFileName(file)}")!;
        Assert.Equal(digest, dependency["digest"]!["sha256"]!.GetValue<string>());
        Assert.Equal("Apache-2.0", dependency["annotations"]!["licence"]!.GetValue<string>());
        var verified = await lineage.VerifyAsync(new LineageRunRequest { RunId = job.Id });
        Assert.True(verified.Ok, string.Join("; ", verified.Problems));
    }

    [Fact]
    public async Task Every_round_of_a_scripted_model_is_evaluated_by_an_agents_evaluate_task_as_the_training_code_evaluates_it()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 20_000);
        var data = EvaluationRunTests.WithTestSplit(farm.Synthesize("classifier", 60), 20);
        await farm.StartAgentsAsync(2);
        var job = await farm.SubmitAsync(Spec("own-evaluated", "resnet_classifier_synth.pt", "labelled-images", "cross_entropy", data, shards: 2, rounds: 2,
            "{ epochs: 1, batch_size: 8, learning_rate: 0.05, optimizer: sgd, momentum: 0.9 }"));
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(5));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");

        // Each round's figures came from an evaluate task leased to an agent (the coordinator loads no model code).
        var m = farm.Scheduler.GetManifest(job.Id)!;
        var evaluations = m.Tasks!.Where(t => t.Kind == TaskKinds.Evaluate).ToList();
        Assert.Equal([1, 2], evaluations.Select(t => t.Round));
        Assert.All(evaluations, t => Assert.Equal(AttemptOutcomes.Succeeded, t.Attempts[^1].Outcome));
        Assert.All(m.Rounds, r => Assert.Equal(20, r.Evaluation!.Samples));

        // The same figures as the training code's own evaluation of the final model with the file.
        var weights = Path.Combine(farm.Root, "final.safetensors");
        Safetensors.WriteFile(weights, farm.Artifacts.ReadWeights(m.FinalModelDigest!).Tensors);
        var here = RMTC.Farm.Training.Tasks.HeldOutEvaluation.Run(new RMTC.Farm.Core.Training.ShardTask
        {
            Kind = RMTC.Farm.Core.Training.ShardTaskKinds.Evaluate,
            RunId = job.Id,
            Round = 2,
            Shard = -1,
            Recipe = job.Recipe,
            DatasetPath = data,
            SampleIndices = EvaluationIndices(data),
            InitialWeightsPath = weights,
            Seed = 0,
            OutputPath = Path.Combine(farm.Root, "unused.safetensors"),
            ResultPath = Path.Combine(farm.Root, "evaluation.json"),
            Device = "cpu",
            Model = new RMTC.Farm.Core.Training.ScriptedModel { Path = Path.Combine(Models, "resnet_classifier_synth.pt"), Task = "labelled-images", Loss = "cross_entropy" },
        });
        var last = m.Rounds[^1].Evaluation!;
        Assert.Equal(here.Accuracy, last.Accuracy);
        Assert.Equal(here.Loss, last.Loss, 1e-5);
    }

    /// <summary>The indices of the dataset's test split in its sorted sample list (what the run evaluates).</summary>
    private static int[] EvaluationIndices(string data) =>
        RMTC.Farm.Core.Datasets.Dataset.ListSamples(data).Select((path, i) => (path, i)).Where(x => x.path.StartsWith("samples/test/", StringComparison.Ordinal)).Select(x => x.i).ToArray();

    [Fact]
    public async Task FedAvg_of_the_BatchNorm_model_averages_parameters_and_running_statistics_by_samples_and_keeps_the_largest_counter()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 20_000);
        // 50 training samples in 3 shards: unequal shard sizes, so the sample weighting shows.
        var data = farm.Synthesize("classifier", 50);
        await farm.StartAgentsAsync(3);
        var job = await farm.SubmitAsync(Spec("bn-fedavg", "resnet_classifier_synth.pt", "labelled-images", "cross_entropy", data, shards: 3, rounds: 1,
            "{ epochs: 1, batch_size: 8, learning_rate: 0.05, optimizer: sgd, momentum: 0.9 }"));
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(5));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");

        var round = farm.Scheduler.GetManifest(job.Id)!.Rounds[0];
        var shards = round.Shards.Select(s => (Samples: (double)s.Samples, Tensors: farm.Artifacts.ReadWeights(s.ResultDigest!).Tensors)).ToList();
        Assert.True(shards.Select(s => s.Samples).Distinct().Count() > 1, "the shards should differ in size");
        var merged = farm.Artifacts.ReadWeights(round.OutputDigest!).Tensors;
        var initial = farm.Artifacts.ReadWeights(farm.Scheduler.GetManifest(job.Id)!.InitialWeightsDigest).Tensors.ToDictionary(t => t.Name);
        var total = shards.Sum(s => s.Samples);
        var checkedBuffers = 0;
        foreach (var t in merged)
        {
            var parts = shards.Select(s => s.Tensors.Single(x => x.Name == t.Name)).ToList();
            if (t.DType == TensorDType.I64)
            {
                // The documented rule for integer buffers: the largest count any shard reached.
                var counts = parts.Select(p => MemoryMarshal.Read<long>(p.Data)).ToList();
                Assert.Equal(counts.Max(), MemoryMarshal.Read<long>(t.Data));
                Assert.True(counts.Distinct().Count() > 1, $"{t.Name}: {string.Join(", ", counts)}");
                continue;
            }

            // A plain reference in double precision: sum of samples x value over the shards, divided by all samples.
            var values = t.AsFloat32().ToArray();
            for (int i = 0; i < values.Length; i++)
            {
                var expected = parts.Select((p, k) => shards[k].Samples * p.AsFloat32()[i]).Sum() / total;
                Assert.True(Math.Abs(values[i] - expected) <= 1e-6 * (1 + Math.Abs(expected)), $"{t.Name}[{i}]: {values[i]} vs {expected}");
            }

            if (t.Name.EndsWith("running_mean", StringComparison.Ordinal) || t.Name.EndsWith("running_var", StringComparison.Ordinal))
            {
                Assert.NotEqual(initial[t.Name].Data, t.Data);
                checkedBuffers++;
            }
        }

        Assert.True(checkedBuffers >= 4, $"only {checkedBuffers} BatchNorm statistics checked");
    }

    [Fact]
    public async Task A_scripted_models_shard_preempted_mid_training_resumes_from_its_checkpoint_to_the_same_bits()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 20_000);
        var data = farm.Synthesize("classifier", 100);
        var spec = Spec("own-preempt", "resnet_classifier_synth.pt", "labelled-images", "cross_entropy", data, shards: 1, rounds: 1,
            "{ epochs: 48, batch_size: 4, learning_rate: 0.02, optimizer: sgd, momentum: 0.9, weight_decay: 0.0001 }");

        // 48 epochs (about 4 s idle) so the flag lands mid-training even when the machine is loaded: at 12 a CI run
        // finished the shard before the yield was seen.
        // The uninterrupted run first, on a node that never yields.
        var steady = (await farm.StartAgentsAsync(1, "steady"))[0];
        var reference = await farm.SubmitAsync(spec);
        var referenceDone = await farm.WaitAsync(reference.Id, TimeSpan.FromMinutes(5));
        Assert.True(referenceDone.State == JobState.Succeeded, $"{referenceDone}\n{farm.AgentLogs()}");
        steady.Kill();
        // Its session must be gone before the next agent is counted in.
        await FarmFixture.WaitUntilAsync(() => farm.Scheduler.ConnectedAgents == 0, TimeSpan.FromSeconds(60), () => "the killed agent stays connected");

        var flag = Path.Combine(farm.Root, "render.flag");
        var render = (await farm.StartAgentsAsync(1, "render", PreemptionTests.Yield("FlagFile", flag)))[0];
        var job = await farm.SubmitAsync(spec);
        using (var events = PreemptionTests.Watch(farm, job.Id))
        {
            await events.WaitForAsync(e => e.Kind == "shard-progress" && e.Message.Contains("samples", StringComparison.Ordinal), TimeSpan.FromMinutes(2), farm);
            await File.WriteAllTextAsync(flag, "frame 1001");
            await events.WaitForAsync(e => e.Kind == "shard-preempted", TimeSpan.FromMinutes(1), farm);
        }

        var other = (await farm.StartAgentsAsync(1, "free"))[0];
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(5));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");

        var attempts = farm.Scheduler.GetManifest(job.Id)!.Rounds[0].Attempts;
        Assert.Equal(AttemptOutcomes.Preempted, attempts[0].Outcome);
        Assert.Equal(render.Id, attempts[0].AgentId);
        Assert.NotNull(attempts[0].CheckpointDigest);
        Assert.Equal(attempts[0].CheckpointDigest, attempts[^1].ResumedFrom);
        Assert.Equal(other.Id, attempts[^1].AgentId);
        output.WriteLine($"preempted at {attempts[0].Progress}; resumed on {other.Id}");
        // The spec's optimiser reached the agent and its checkpoint (a resume under other settings would refuse it).
        var settings = farm.Artifacts.ReadWeights(attempts[0].CheckpointDigest!).Metadata["rmtc.optimizer"];
        Assert.Contains("\"sgd\"", settings, StringComparison.Ordinal);
        Assert.Contains("0.9", settings, StringComparison.Ordinal);
        Assert.Contains("0.0001", settings, StringComparison.Ordinal);

        // Same bits as the run that was never interrupted: parameters, BatchNorm statistics and counters.
        Assert.Equal(referenceDone.FinalModelTensorsDigest, done.FinalModelTensorsDigest);
    }

    /// <summary>Models that load nowhere or fit no dataset of their task: what the check where training code runs refuses.</summary>
    public static TheoryData<string, string, string, string, string> Unfit => new()
    {
        { "resnet_classifier.pt", "labelled-images", "cross_entropy", "classifier", "model output is [1, 10] but the dataset has 4 classes" },
        { "testdata/half_size_denoiser.pt", "image-pairs", "mse", "denoiser", "model output is [1, 3, 16, 16] but the target is [1, 3, 32, 32]" },
        { "testdata/float64_classifier.pt", "labelled-images", "cross_entropy", "classifier", "is Float64; only float32 parameters are supported" },
        { "testdata/not_torchscript.pt", "labelled-images", "cross_entropy", "classifier", "does not load as TorchScript" },
    };

    [Theory]
    [InlineData("no_such_model.pt", "labelled-images", "cross_entropy", "classifier", "no such file")]
    [InlineData("resnet_classifier_synth.pt", "image-pairs", "mse", "classifier", "is for task image-pairs, but dataset")]
    public async Task The_coordinator_refuses_a_missing_model_file_or_one_for_another_task_at_submission_naming_the_file_and_nothing_is_stored(string file, string task, string loss, string recipe, string expected)
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize(recipe, 8);

        var e = await Assert.ThrowsAsync<RpcException>(() => farm.SubmitAsync(Spec("refused", file, task, loss, data, shards: 1, rounds: 1, "{ epochs: 1 }")));
        output.WriteLine(e.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains($"model {Path.Combine(Models, file)}", e.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(expected, e.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(farm.DataDirectory, "*.pt", SearchOption.AllDirectories));
        Assert.Empty(await farm.Jobs.ListJobsAsync(new ListJobsRequest()) is { } list ? list.Jobs : []);
    }

    [Theory]
    [MemberData(nameof(Unfit))]
    [InlineData("resnet_classifier_synth.pt", "image-pairs", "mse", "classifier", "is for task image-pairs, but dataset")]
    public async Task Rmtc_submit_tries_the_model_where_it_runs_and_refuses_one_that_does_not_fit_before_sending_it(string file, string task, string loss, string recipe, string expected)
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize(recipe, 8);
        var specFile = Path.Combine(farm.Root, "refused.yaml");
        await File.WriteAllTextAsync(specFile, Spec("refused", file, task, loss, data, shards: 1, rounds: 1, "{ epochs: 1 }"));

        var (code, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "submit", specFile, "--coordinator", farm.Address);
        output.WriteLine(text);
        Assert.Equal(2, code);
        Assert.Contains($"error: refused.yaml: model: model {Path.Combine(Models, file)}", text, StringComparison.Ordinal);
        Assert.Contains(expected, text, StringComparison.Ordinal);
        // Nothing reached the coordinator.
        Assert.Empty(Directory.EnumerateFiles(farm.DataDirectory, "*.pt", SearchOption.AllDirectories));
        Assert.Empty(await farm.Jobs.ListJobsAsync(new ListJobsRequest()) is { } list ? list.Jobs : []);
    }

    [Fact]
    public async Task A_model_that_does_not_fit_fails_its_runs_preparation_on_an_agent_at_once_naming_the_file_and_no_shard_is_leased()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 20_000);
        await farm.StartAgentsAsync(1);
        var submitted = new List<(Job Job, string File, string Expected)>();
        foreach (var row in Unfit)
        {
            var (file, task, loss, recipe, expected) = ((string)row[0], (string)row[1], (string)row[2], (string)row[3], (string)row[4]);
            var data = farm.Synthesize(recipe, 8);
            // Straight to the coordinator (no rmtc submit to try it first): it stores the file and leases the preparation.
            var job = await farm.SubmitAsync(Spec($"unfit-{submitted.Count}", file, task, loss, data, shards: 1, rounds: 1, "{ epochs: 1 }"));
            submitted.Add((job, file, expected));
        }

        foreach (var (job, file, expected) in submitted)
        {
            var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));
            output.WriteLine($"{file}: {done.Error}");
            Assert.True(done.State == JobState.Failed, $"{done}\n{farm.AgentLogs()}");
            Assert.Contains($"model {Path.Combine(Models, file)}", done.Error, StringComparison.Ordinal);
            Assert.Contains(expected, done.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("/cache/", done.Error, StringComparison.Ordinal);

            // Refused once, not retried (the default max_retries, 3, would allow it): another attempt would fail the same way.
            var m = farm.Scheduler.GetManifest(job.Id)!;
            var prepare = Assert.Single(m.Tasks!);
            Assert.Equal(TaskKinds.Prepare, prepare.Kind);
            Assert.Equal(AttemptOutcomes.Failed, Assert.Single(prepare.Attempts).Outcome);
            Assert.Empty(m.Rounds);
            Assert.Equal("", m.InitialWeightsDigest);
        }

        var status = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "status", submitted[0].Job.Id, "--coordinator", farm.Address);
        Assert.Contains(submitted[0].Expected, status.Output, StringComparison.Ordinal);
    }
}
