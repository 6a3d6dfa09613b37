using System.Text.Json.Nodes;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Images.Exr;
using RMTC.Farm.Protos.V1;
using RMTC.Farm.Training.Datasets;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// A render model end to end: hdr-denoiser trained by agent processes on render pairs, exported, and `rmtc infer` run
/// as a process on a whole EXR frame larger than a tile, the output keeping the frame's header and traced in lineage.
/// </summary>
public sealed class ExrInferenceTests : IAsyncLifetime
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromMinutes(2);
    private FarmFixture _farm = null!;
    private Job _run = null!;

    public async Task InitializeAsync()
    {
        _farm = await FarmFixture.StartAsync();
        var data = _farm.Synthesize("hdr-denoiser", 24);
        await _farm.StartAgentsAsync(2);
        var job = await _farm.SubmitAsync($"name: frames\nrecipe: hdr-denoiser\ndataset: {data}\nshards: 2\nrounds: 1\n");
        _run = await _farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));
        Assert.True(_run.State == JobState.Succeeded, _run.ToString());
    }

    public async Task DisposeAsync() => await _farm.DisposeAsync();

    private Task<(int ExitCode, string Output)> Rmtc(params string[] args) => RmtcCli.RunAsync(CliTimeout, [.. args, "--coordinator", _farm.Address]);

    [Fact]
    public async Task A_whole_frame_is_denoised_into_an_exr_with_the_inputs_header_and_traced_to_the_run()
    {
        var onnx = Path.Combine(_farm.Root, "frames.onnx");
        var (exportCode, exportOutput) = await Rmtc("export", _run.Id, "--onnx", onnx);
        Assert.True(exportCode == 0, exportOutput);

        // A frame as Blender writes it (plus alpha, depth and an attribute), wider and taller than one 128-pixel tile.
        const int width = 333, height = 150;
        var (_, noisy) = HdrFrameSynthesizer.Frame(width, height, 42);
        var names = noisy.Keys.Order(StringComparer.Ordinal).ToList();
        var frame = Path.Combine(_farm.Root, "frame.exr");
        var window = ExrBox.FromSize(width, height);
        ExrFile.Write(frame, new ExrImage([new ExrPart(null, window, window, names.Select(n => new ExrChannel(n, ExrPixelType.Half)).ToList(),
            ExrCompression.Zip, null, names.Select(n => noisy[n]).ToArray(), [ExrAttribute.String("renderer", "Cycles 3.4")])]));

        var output = Path.Combine(_farm.Root, "denoised.exr");
        var (code, text) = await Rmtc("infer", onnx, "-i", frame, "-o", output, "--tile", "128");
        Assert.True(code == 0, text);
        Assert.Contains("333x150", text);

        var input = ExrFile.Read(frame).Parts[0];
        var result = ExrFile.Read(output).Parts[0];
        Assert.Equal(input.Channels, result.Channels);
        Assert.Equal(input.DataWindow, result.DataWindow);
        Assert.Equal(input.DisplayWindow, result.DisplayWindow);
        Assert.Equal(ExrCompression.Zip, result.Compression);
        Assert.Equal("Cycles 3.4", result.Attribute("renderer")?.Text);
        Assert.Equal(_run.Id, result.Attribute("rmtc.run_id")?.Text);
        Assert.Equal(_run.FinalModelDigest, result.Attribute("rmtc.model_digest")?.Text);
        Assert.Equal(Sha256Digest.OfFile(onnx), result.Attribute("rmtc.onnx_digest")?.Text);
        Assert.Equal(Sha256Digest.OfFile(frame), result.Attribute("rmtc.input_digest")?.Text);
        Assert.Equal(input["ViewLayer.Denoising Depth.Z"], result["ViewLayer.Denoising Depth.Z"]);
        Assert.NotEqual(input["ViewLayer.Combined.R"], result["ViewLayer.Combined.R"]);
        Assert.All(result["ViewLayer.Combined.G"], v => Assert.True(float.IsFinite(v) && v >= 0));

        var lineage = new LineageService.LineageServiceClient(_farm.Channel);
        var up = JsonNode.Parse((await lineage.TraceAsync(new TraceRequest { Digest = Sha256Digest.OfFile(output), Direction = TraceDirection.Up })).Json)!;
        var producer = Assert.Single(up["producedBy"]!.AsArray())!;
        Assert.Equal("inference output", (string)producer["role"]!);
        Assert.Equal(_run.Id, (string)producer["runId"]!);
        Assert.Equal(Sha256Digest.OfFile(frame), (string)producer["derivation"]!["inputs"]![0]!);
    }

    [Fact]
    public async Task A_frame_without_the_models_channels_or_written_over_itself_is_refused()
    {
        var onnx = Path.Combine(_farm.Root, "frames-2.onnx");
        Assert.Equal(0, (await Rmtc("export", _run.Id, "--onnx", onnx)).ExitCode);
        var (_, noisy) = HdrFrameSynthesizer.Frame(40, 30, 1);
        var beautyOnly = noisy.Where(kv => kv.Key.Contains("Combined", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        var frame = Path.Combine(_farm.Root, "beauty-only.exr");
        HdrFrameSynthesizer.WriteExr(frame, beautyOnly, 40, 30);
        var output = Path.Combine(_farm.Root, "never.exr");
        var (code, text) = await Rmtc("infer", onnx, "-i", frame, "-o", output);
        Assert.Equal(2, code);
        Assert.Contains("lacks ViewLayer.Denoising Albedo.R", text);
        Assert.False(File.Exists(output));

        // Nor is a frame overwritten by its own denoised version.
        var (_, full) = HdrFrameSynthesizer.Frame(40, 30, 2);
        var whole = Path.Combine(_farm.Root, "whole.exr");
        HdrFrameSynthesizer.WriteExr(whole, full, 40, 30);
        var digest = Sha256Digest.OfFile(whole);
        (code, text) = await Rmtc("infer", onnx, "-i", whole, "-o", whole);
        Assert.Equal(2, code);
        Assert.Contains("is the input frame itself", text);
        Assert.Equal(digest, Sha256Digest.OfFile(whole));
    }
}
