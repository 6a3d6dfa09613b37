using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Onnx.Export;
using RMTC.Farm.Onnx.Protos;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// `rmtc export` of a run trained from a model: block, on the farm with real agent processes: the spec's ONNX template
/// filled with the run's final state and its provenance; without a template the export says how to make one.
/// </summary>
public sealed class ScriptedModelExportTests
{
    private static readonly string Models = Path.Combine(FarmOperationsTests.RepoRoot(), "farm", "models");
    private static readonly TimeSpan CliTimeout = TimeSpan.FromMinutes(2);

    private static string Spec(string name, string data, bool template) =>
        $"name: {name}\n"
        + "model:\n"
        + $"  file: {Path.Combine(Models, "resnet_classifier_synth.pt")}\n"
        + "  task: labelled-images\n"
        + "  loss: cross_entropy\n"
        + "  licence: Apache-2.0\n"
        + (template ? $"  onnx_template: {Path.Combine(Models, "resnet_classifier_synth.onnx")}\n" : "")
        + $"dataset: {data}\n"
        + "shards: 2\n"
        + "rounds: 1\n"
        + "local: { epochs: 1, batch_size: 16, learning_rate: 0.05 }\n";

    [Fact]
    public async Task Export_fills_the_template_with_the_final_state_and_without_one_says_how_to_make_it()
    {
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 20_000);
        var data = farm.Synthesize("classifier", 32);
        await farm.StartAgentsAsync(2);
        var withTemplate = await farm.SubmitAsync(Spec("own-export", data, template: true));
        var without = await farm.SubmitAsync(Spec("own-no-template", data, template: false));
        foreach (var job in new[] { withTemplate, without })
        {
            var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(5));
            Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");
        }

        var onnx = Path.Combine(farm.Root, "own.onnx");
        var (code, output) = await RmtcCli.RunAsync(CliTimeout, ["export", withTemplate.Id, "--onnx", onnx, "--coordinator", farm.Address]);
        Assert.True(code == 0, output);
        Assert.Contains("ONNX opset 14", output);

        var m = farm.Scheduler.GetManifest(withTemplate.Id)!;
        var final = farm.Artifacts.ReadWeights(m.FinalModelDigest!).Tensors;
        var bytes = await File.ReadAllBytesAsync(onnx);
        var model = ModelProto.Parser.ParseFrom(bytes);
        var inits = model.Graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        foreach (var t in final.Where(t => !OnnxTemplateFiller.IsDerivedStateEntry(t)))
        {
            Assert.Equal(t.Data, inits[t.Name].RawData.ToByteArray());
        }

        var provenance = OnnxExporter.ReadProvenance(bytes);
        Assert.Equal(withTemplate.Id, provenance.RunId);
        Assert.Equal(m.FinalModelDigest, provenance.ModelDigest);
        Assert.Equal("torchscript", provenance.Recipe);
        Assert.Contains("Apache-2.0", provenance.LicenceClosure.Licences);

        var (refusedCode, refused) = await RmtcCli.RunAsync(CliTimeout, ["export", without.Id, "--onnx", Path.Combine(farm.Root, "none.onnx"), "--coordinator", farm.Address]);
        Assert.NotEqual(0, refusedCode);
        Assert.Contains("names no ONNX template", refused);
        Assert.Contains("training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False", refused);
    }
}
