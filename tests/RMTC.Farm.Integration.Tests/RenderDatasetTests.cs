using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Images.Exr;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>Real Cycles renders (farm/scripts/render-dataset.sh, Debian's blender) imported with `rmtc dataset import exr`.</summary>
public sealed class RenderDatasetTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rmtc-render-dataset-" + Guid.NewGuid().ToString("N"));

    public RenderDatasetTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Rendered_frames_import_as_render_pairs_by_Blender_s_channel_names()
    {
        var (renders, data) = await RenderAndImportAsync();

        var dataset = Dataset.Open(data);
        var render = dataset.Descriptor.Render!;
        Assert.Equal(DatasetKinds.RenderPairs, dataset.Descriptor.Kind);
        Assert.Equal([9, 16, 16], dataset.Descriptor.SampleShape);
        Assert.Equal("ViewLayer.Combined.R", render.Input[0]);
        Assert.Equal("ViewLayer.Denoising Albedo.R", render.Input[3]);
        Assert.Equal("ViewLayer.Denoising Normal.Z", render.Input[8]);
        Assert.Equal(["ViewLayer.Combined.R", "ViewLayer.Combined.G", "ViewLayer.Combined.B"], render.Target);
        var held = Assert.Single(render.Frames.Where(f => f.Split == DatasetSplits.Test).Select(f => f.Scene).Distinct());
        Assert.Equal("scene0002", held);
        var frame = render.Frames.Single(f => f.Name == "scene0000_0001.exr");
        Assert.Equal(Sha256Digest.OfFile(Path.Combine(renders, "train", "noisy", "scene0000_0001.exr")), frame.Noisy.Sha256);
        Assert.Equal(Sha256Digest.OfFile(Path.Combine(renders, "train", "clean", "scene0000_0001.exr")), frame.Clean.Sha256);

        // The patches hold the renders' linear values: finite, not all zero, and the noisy beauty differs from the clean one.
        var tensors = Safetensors.ReadFile(Path.Combine(data, frame.Samples, "0004.safetensors")).Tensors;
        var input = tensors.Single(t => t.Name == DatasetKinds.InputTensor).AsFloat32().ToArray();
        var target = tensors.Single(t => t.Name == DatasetKinds.TargetTensor).AsFloat32().ToArray();
        Assert.All(input, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(target, v => v > 0);
        Assert.NotEqual(input[..(3 * 16 * 16)], target);
    }

    [Fact]
    public async Task Lineage_impact_of_a_source_render_file_finds_the_farm_run_trained_on_it()
    {
        var (renders, data) = await RenderAndImportAsync();
        await using var farm = await FarmFixture.StartAsync();
        await farm.StartAgentsAsync(2);
        var job = await farm.SubmitAsync($"name: rendered\nrecipe: hdr-denoiser\ndataset: {data}\nshards: 2\nrounds: 1\nlocal: {{ epochs: 1, batch_size: 8 }}\nevaluation: {{ split: test }}\n");
        var run = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));
        Assert.True(run.State == JobState.Succeeded, run + "\n" + farm.AgentLogs());

        // The EXR file as rendered, given by path: its sha256 is the asset digest of every patch cut from it.
        var trainedOn = Path.Combine(renders, "train", "noisy", "scene0001_0002.exr");
        var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "impact", "--asset", trainedOn, "--coordinator", farm.Address);
        Assert.True(code == 0, output);
        Assert.Contains("1 run(s) trained on this asset", output);
        Assert.Contains(run.Id, output);
        Assert.Contains("exclude_assets", output);
        Assert.Contains(Sha256Digest.OfFile(trainedOn), output);

        (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "impact", "--asset", Path.Combine(renders, "train", "clean", "scene0000_0001.exr"), "--coordinator", farm.Address);
        Assert.True(code == 0, output);
        Assert.Contains(run.Id, output);

        // A held-out frame trained nothing: evaluating on it is not training on it.
        (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "impact", "--asset", Path.Combine(renders, "test", "noisy", "scene0002_0001.exr"), "--coordinator", farm.Address);
        Assert.True(code == 0, output);
        Assert.Contains("no model on record was trained on this asset", output);

        // And the model denoises a Cycles frame as rendered: Blender's header (attribute names past 31 bytes) written back.
        var onnx = Path.Combine(_dir, "rendered.onnx");
        (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "export", run.Id, "--onnx", onnx, "--coordinator", farm.Address);
        Assert.True(code == 0, output);
        var denoised = Path.Combine(_dir, "denoised.exr");
        var frame = Path.Combine(renders, "test", "noisy", "scene0002_0001.exr");
        (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "infer", onnx, "-i", frame, "-o", denoised, "--coordinator", farm.Address);
        Assert.True(code == 0, output);
        var input = ExrFile.ReadHeader(frame).Parts[0];
        var result = ExrFile.ReadHeader(denoised).Parts[0];
        Assert.Equal(input.Channels, result.Channels);
        Assert.All(input.Attributes, a => Assert.Contains(result.Attributes, b => b.Name == a.Name));
    }

    /// <summary>
    /// Renders 6 tiny frames with render-dataset.sh (3 scenes, the last held out) and imports them in 16-pixel patches.
    /// </summary>
    private async Task<(string Renders, string Data)> RenderAndImportAsync()
    {
        var script = Path.Combine(FarmOperationsTests.RepoRoot(), "farm", "scripts", "render-dataset.sh");
        var renders = Path.Combine(_dir, "renders");
        // Tiny frames at few samples: seconds of Cycles on a CPU, the same layers as a full-size render.
        var (code, output) = await RmtcCli.RunProcessAsync("bash",
            [script, "--out", renders, "--scenes", "3", "--frames", "2", "--holdout", "1", "--size", "32", "--low", "2", "--high", "16", "--seed", "7", "--threads", "2"],
            TimeSpan.FromMinutes(5), "render-dataset.sh");
        Assert.True(code == 0, output);
        Assert.Contains("summary: 6 frames (3 scenes, 1 held out) at 32x32", output);
        Assert.True(File.Exists(Path.Combine(renders, "test", "clean", "scene0002_0002.exr")), output);

        var data = Path.Combine(_dir, "data");
        (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "dataset", "import", "exr", renders, "--out", data,
            "--patch", "16", "--stride", "12", "--licence", "LicenseRef-procedural", "--allow", "cawg.ai_training", "--allow", "cawg.ai_generative_training");
        Assert.True(code == 0, output);
        // 32 px, patch 16, stride 12: origins 0, 12 and 16 (flush) each way, 9 patches a frame; 4 train frames, 2 held out.
        Assert.Contains("wrote 36 train, 18 test samples", output);
        Assert.Contains("frames 6/6, 54 patches", output);
        return (renders, data);
    }
}
