using System.Text.Json;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Datasets;
using Xunit.Abstractions;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// Your own model as a TD tries it today: a job spec with a <c>model:</c> block (the committed TorchScript examples in
/// farm/models) trained by <c>rmtc train --local</c>, checked before training, and a submission of one that does not
/// fit refused by a real coordinator naming the file.
/// </summary>
public sealed class ScriptedModelCliTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string Models = Path.Combine(FarmOperationsTests.RepoRoot(), "farm", "models");

    private readonly string _dir = Directory.CreateTempSubdirectory("rmtc-scripted-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Spec(string modelFile, string data, string local = "{ epochs: 1, batch_size: 16, learning_rate: 0.02, optimizer: sgd, momentum: 0.9 }")
    {
        var spec = Path.Combine(_dir, "job.yaml");
        File.WriteAllText(spec, $"""
            name: resnet-local
            model:
              file: {Path.Combine(Models, modelFile)}
              task: labelled-images
              loss: cross_entropy
              licence: Apache-2.0
              origin: farm/models/resnet_classifier.py
            dataset: {data}
            rounds: 2
            local: {local}

            """);
        return spec;
    }

    [Fact]
    public async Task Train_local_runs_a_model_block_end_to_end_and_writes_its_full_state()
    {
        var data = Path.Combine(_dir, "data");
        DatasetSynthesizer.Synthesize("classifier", data, 64, seed: 3);
        var weights = Path.Combine(_dir, "trained.safetensors");

        var (code, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(4), "train", "--local", Spec("resnet_classifier_synth.pt", data), "--json", "--threads", "1", "--out", weights);
        output.WriteLine(text);
        Assert.True(code == 0, text);
        using var json = JsonDocument.Parse(text);
        Assert.Equal("torchscript", json.RootElement.GetProperty("recipe").GetString());
        var rounds = json.RootElement.GetProperty("rounds").EnumerateArray().ToList();
        Assert.Equal(2, rounds.Count);
        Assert.All(rounds, r => Assert.True(double.IsFinite(r.GetProperty("trainLoss").GetDouble())));

        var state = Safetensors.ReadFile(weights).Tensors;
        var tracked = state.Single(t => t.Name == "bn.num_batches_tracked");
        Assert.Equal(TensorDType.I64, tracked.DType);
        Assert.Equal(2 * 4, BitConverter.ToInt64(tracked.Data)); // 2 rounds x 64 samples / 16 per batch
        Assert.Contains(state, t => t.Name == "layer2.shortcut.1.running_var");
    }

    [Fact]
    public async Task Train_local_refuses_a_model_that_does_not_fit_the_dataset_naming_the_file()
    {
        var data = Path.Combine(_dir, "data");
        DatasetSynthesizer.Synthesize("classifier", data, 8, seed: 3);

        var (code, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "train", "--local", Spec("resnet_classifier.pt", data));
        Assert.Equal(2, code);
        Assert.Contains($"error: model {Path.Combine(Models, "resnet_classifier.pt")}: model output is [1, 10] but the dataset has 4 classes", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rmtc_submit_of_a_model_that_does_not_fit_the_dataset_is_refused_naming_the_file()
    {
        var data = Path.Combine(_dir, "data");
        DatasetSynthesizer.Synthesize("classifier", data, 8, seed: 3);
        using var coordinator = await CoordinatorProcess.StartAsync(Path.Combine(_dir, "farm"), CoordinatorProcess.FreePort());

        var (code, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "submit", Spec("resnet_classifier.pt", data, "{ epochs: 1 }"), "--coordinator", coordinator.Address);
        output.WriteLine(text);
        Assert.Equal(2, code);
        Assert.Contains($"model: model {Path.Combine(Models, "resnet_classifier.pt")}: model output is [1, 10] but the dataset has 4 classes", text, StringComparison.Ordinal);
    }
}
