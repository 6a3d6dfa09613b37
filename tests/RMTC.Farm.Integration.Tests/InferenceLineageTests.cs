using System.Text.Json.Nodes;
using Grpc.Core;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// Models leaving the farm, end to end: real runs trained by agent processes, `rmtc export` and `rmtc infer` as
/// processes against the coordinator, and the lineage that ties an inference's output back to the dataset.
/// </summary>
public sealed class InferenceLineageTests : IAsyncLifetime
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromMinutes(2);
    private FarmFixture _farm = null!;
    private LineageService.LineageServiceClient _lineage = null!;
    private string _classifierData = "", _denoiserData = "";
    private string _openDenoiserData = "";
    private Job _classifier = null!, _denoiser = null!, _openDenoiser = null!;

    public async Task InitializeAsync()
    {
        _farm = await FarmFixture.StartAsync();
        _lineage = new LineageService.LineageServiceClient(_farm.Channel);
        _classifierData = _farm.Synthesize("classifier", 24);
        // The denoiser's data may train models but forbids using them for inference.
        _denoiserData = _farm.Synthesize("denoiser", 24);
        var descriptor = Dataset.ReadDescriptor(_denoiserData);
        descriptor.Rights[CawgAssertions.AiInference] = RightsAssertion.NotAllowed;
        Dataset.WriteDescriptor(_denoiserData, descriptor);
        _openDenoiserData = _farm.Synthesize("denoiser", 24, seed: 5);
        await _farm.StartAgentsAsync(2);
        _classifier = await RunAsync("tagger", "classifier", _classifierData);
        _denoiser = await RunAsync("cleaner", "denoiser", _denoiserData);
        _openDenoiser = await RunAsync("restorer", "denoiser", _openDenoiserData);
    }

    public async Task DisposeAsync() => await _farm.DisposeAsync();

    private async Task<Job> RunAsync(string name, string recipe, string data)
    {
        var job = await _farm.SubmitAsync($"name: {name}\nrecipe: {recipe}\ndataset: {data}\nshards: 2\nrounds: 1\n");
        var done = await _farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));
        Assert.True(done.State == JobState.Succeeded, done.ToString());
        return done;
    }

    private Task<(int ExitCode, string Output)> Rmtc(params string[] args) => RmtcCli.RunAsync(CliTimeout, [.. args, "--coordinator", _farm.Address]);

    [Fact]
    public async Task An_inference_output_traces_up_through_the_export_and_the_run_to_the_dataset()
    {
        var onnx = Path.Combine(_farm.Root, "tagger.onnx");
        var (exportCode, exportOutput) = await Rmtc("export", _classifier.Id, "--onnx", onnx);
        Assert.True(exportCode == 0, exportOutput);
        var onnxDigest = Sha256Digest.OfFile(onnx);
        Assert.Contains(onnxDigest, exportOutput);

        // Exporting again, by the model's digest this time, gives the same file and records nothing new.
        var again = Path.Combine(_farm.Root, "tagger-again.onnx");
        Assert.Equal(0, (await Rmtc("export", _classifier.FinalModelDigest, "--onnx", again)).ExitCode);
        Assert.Equal(onnxDigest, Sha256Digest.OfFile(again));

        var samples = Dataset.Open(_classifierData).Samples;
        var sample = Path.Combine(_classifierData, samples[0].RelativePath);
        var scores = Path.Combine(_farm.Root, "scores.json");
        var (code, output) = await Rmtc("infer", onnx, "--input", sample, "--output", scores);
        Assert.True(code == 0, output);
        Assert.Contains("CPUExecutionProvider", output);
        var outputDigest = Sha256Digest.OfFile(scores);
        var labels = JsonNode.Parse(await File.ReadAllTextAsync(scores))![0]!["scores"]!.AsArray();
        Assert.Equal(4, labels.Count);

        var up = JsonNode.Parse((await _lineage.TraceAsync(new TraceRequest { Digest = outputDigest, Direction = TraceDirection.Up })).Json)!;
        var producer = Assert.Single(up["producedBy"]!.AsArray())!;
        Assert.Equal("inference output", (string)producer["role"]!);
        Assert.Equal(_classifier.Id, (string)producer["runId"]!);
        Assert.Equal(_classifier.FinalModelDigest, (string)producer["model"]!);
        Assert.Equal(_classifier.DatasetDigest, (string)producer["dataset"]!["digest"]!);
        Assert.Equal(samples[0].Sha256, (string)producer["derivation"]!["inputs"]![0]!);
        Assert.Equal(onnxDigest, (string)producer["export"]!["variantDigest"]!);

        // The ONNX file itself is a variant of the model with the same provenance.
        var fromOnnx = JsonNode.Parse((await _lineage.TraceAsync(new TraceRequest { Digest = onnxDigest, Direction = TraceDirection.Up })).Json)!;
        Assert.Equal("onnx export of the model", (string)fromOnnx["producedBy"]![0]!["role"]!);

        // Down from the dataset: the run lists its one export and the inference made with it; a reindex keeps all of it.
        await _lineage.ReindexAsync(new ReindexRequest());
        var down = JsonNode.Parse((await _lineage.TraceAsync(new TraceRequest { Digest = _classifier.DatasetDigest, Direction = TraceDirection.Down })).Json)!;
        var use = Assert.Single(down["usedBy"]!.AsArray())!;
        Assert.Equal(onnxDigest, (string)Assert.Single(use["exports"]!.AsArray())!["digest"]!);
        Assert.Equal(outputDigest, (string)Assert.Single(use["inferences"]!.AsArray())!["outputs"]![0]!);
        var after = JsonNode.Parse((await _lineage.TraceAsync(new TraceRequest { Digest = outputDigest, Direction = TraceDirection.Up })).Json)!;
        Assert.Single(after["producedBy"]!.AsArray());
    }

    [Fact]
    public async Task Inference_is_refused_when_the_licence_closure_forbids_it_and_nothing_is_recorded()
    {
        var onnx = Path.Combine(_farm.Root, "cleaner.onnx");
        var (exportCode, exportOutput) = await Rmtc("export", _denoiser.Id, "--onnx", onnx);
        Assert.True(exportCode == 0, exportOutput);

        var sample = Path.Combine(_denoiserData, Dataset.Open(_denoiserData).Samples[0].RelativePath);
        var image = Path.Combine(_farm.Root, "clean.png");
        var (code, output) = await Rmtc("infer", onnx, "--input", sample, "--output", image);
        Assert.Equal(2, code);
        Assert.Contains("cawg.ai_inference: notAllowed", output);
        Assert.False(File.Exists(image));

        // The coordinator refuses too, whatever a client claims.
        var models = new ModelService.ModelServiceClient(_farm.Channel);
        var request = new RecordInferenceRequest { OnnxDigest = Sha256Digest.OfFile(onnx) };
        request.InputDigests.Add(new string('1', 64));
        request.OutputDigests.Add(new string('2', 64));
        var e = await Assert.ThrowsAsync<RpcException>(() => models.RecordInferenceAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);

        var down = JsonNode.Parse((await _lineage.TraceAsync(new TraceRequest { Digest = _denoiser.DatasetDigest, Direction = TraceDirection.Down })).Json)!;
        Assert.Empty(Assert.Single(down["usedBy"]!.AsArray())!["inferences"]!.AsArray());
    }

    [Fact]
    public async Task A_model_the_farm_never_exported_is_not_run()
    {
        var onnx = Path.Combine(_farm.Root, "edited.onnx");
        Assert.Equal(0, (await Rmtc("export", _classifier.Id, "--onnx", onnx)).ExitCode);
        var bytes = await File.ReadAllBytesAsync(onnx);
        bytes[^1] ^= 0x01; // still parses as protobuf, but it is not the file the farm made
        await File.WriteAllBytesAsync(onnx, bytes);
        var sample = Path.Combine(_classifierData, Dataset.Open(_classifierData).Samples[0].RelativePath);
        var (code, output) = await Rmtc("infer", onnx, "--input", sample);
        Assert.NotEqual(0, code);
        Assert.Contains("rmtc export", output);
    }

    [Fact]
    public async Task The_denoiser_reads_and_writes_png_and_its_output_is_traced_to_the_dataset()
    {
        var onnx = Path.Combine(_farm.Root, "restorer.onnx");
        Assert.Equal(0, (await Rmtc("export", _openDenoiser.Id, "--onnx", onnx)).ExitCode);
        var noisy = Path.Combine(_farm.Root, "noisy.png");
        var pixels = new float[3 * 20 * 28];
        var random = new Random(4);
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = random.NextSingle();
        }

        Core.Images.Png.WritePlanesFile(noisy, pixels, 3, 20, 28);
        var clean = Path.Combine(_farm.Root, "clean.png");
        var (code, output) = await Rmtc("infer", onnx, "--input", noisy, "--output", clean);
        Assert.True(code == 0, output);
        var image = Core.Images.Png.ReadPlanesFile(clean);
        Assert.Equal((28, 20, 3), (image.Width, image.Height, image.Channels));

        var up = JsonNode.Parse((await _lineage.TraceAsync(new TraceRequest { Digest = Sha256Digest.OfFile(clean), Direction = TraceDirection.Up })).Json)!;
        var producer = Assert.Single(up["producedBy"]!.AsArray())!;
        Assert.Equal(_openDenoiser.DatasetDigest, (string)producer["dataset"]!["digest"]!);
        Assert.Equal(Sha256Digest.OfFile(noisy), (string)producer["derivation"]!["inputs"]![0]!);
    }
}
