using System.Diagnostics;
using Google.Protobuf;
using RMTC.Farm.Core.Images.Exr;
using RMTC.Farm.Inference.Runtime;
using RMTC.Farm.Onnx.Export;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Recipes;
using Xunit.Abstractions;

namespace RMTC.Farm.Inference.Tests;

/// <summary>Whole EXR frames through a render model: tiles that blend to the whole-frame answer, channels by name, the header kept.</summary>
public class ExrInferenceTests(ITestOutputHelper output)
{
    private static byte[] HdrModel(long seed = 7)
    {
        // Seeded values for the last convolution too (it starts at zero, an identity): tiles must meet a model with context.
        var weights = ExportParityTests.WithoutZeroTensors(RecipeCatalog.CreateInitialWeights("hdr-denoiser", [9, 32, 32], 0, seed));
        return OnnxExporter.Build(weights, ExportParityTests.Provenance("hdr-denoiser", [])).ToByteArray();
    }

    [Fact]
    public void Tiles_blend_to_what_the_whole_frame_gives()
    {
        using var session = new OnnxModelSession(HdrModel(), cpuOnly: true);
        const int width = 301, height = 173;
        var (_, noisy) = HdrFrameSynthesizer.Frame(width, height, 3);
        var input = HdrFrameSynthesizer.InputChannels.SelectMany(c => noisy[c]).ToArray();
        var (whole, shape) = session.Run(input, [1, 9, height, width]);
        Assert.Equal([1L, 3, height, width], shape);

        // The model's receptive radius is 8 (HdrDenoiserRecipe.Radius): a margin of 8 leaves every weighted pixel its full context.
        var layout = new TileLayout(tile: 96, overlap: 32, margin: 8);
        Assert.True(layout.Spans(width).Count() > 2 && layout.Spans(height).Count() > 1);
        var tiled = TiledInference.Run(session.Run, input, 9, height, width, layout);
        var error = ExportParityTests.RelativeError(tiled, whole);
        Assert.True(error <= 1e-5, $"tiled differs from whole by {error:E2}");

        // Without the margin the seams show: the blend is only as good as the context it keeps.
        var careless = TiledInference.Run(session.Run, input, 9, height, width, new TileLayout(tile: 96, overlap: 4, margin: 0));
        Assert.True(ExportParityTests.RelativeError(careless, whole) > 1e-4);
    }

    [Fact]
    public void Tile_spans_cover_the_axis_with_at_least_the_overlap_and_bad_layouts_are_refused()
    {
        var layout = new TileLayout(tile: 100, overlap: 20, margin: 5);
        Assert.Equal([(0, 50)], layout.Spans(50));
        Assert.Equal([(0, 100)], layout.Spans(100));
        var spans = layout.Spans(250).ToList();
        Assert.Equal([(0, 100), (80, 100), (150, 100)], spans);
        Assert.Contains("twice the margin", Assert.Throws<ArgumentException>(() => new TileLayout(64, 16, 8)).Message, StringComparison.Ordinal);
        Assert.Contains("exceed the overlap", Assert.Throws<ArgumentException>(() => new TileLayout(32, 32, 8)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_frame_is_denoised_in_place_and_keeps_its_header_parts_windows_and_attributes()
    {
        using var dir = new TempDirectory();
        const int width = 150, height = 90;
        var (_, noisy) = HdrFrameSynthesizer.Frame(width, height, 9);
        noisy["ViewLayer.Combined.G"][5] = float.NaN;
        var names = noisy.Keys.Order(StringComparer.Ordinal).ToList();
        var data = new ExrBox(-10, 4, width - 11, height + 3);
        var display = ExrBox.FromSize(width - 20, height);
        ExrAttribute[] attributes =
        [
            ExrAttribute.String("owner", "Studio A"),
            ExrAttribute.Of("worldToCamera", ExrAttributeType.M44f, [.. Enumerable.Range(0, 16).Select(i => (double)i)]),
            ExrAttribute.String("rmtc.run_id", "stale"),
        ];
        var beauty = new ExrPart("ViewLayer", data, display, names.Select(n => new ExrChannel(n, n.EndsWith(".Z", StringComparison.Ordinal) ? ExrPixelType.Float : ExrPixelType.Half)).ToList(),
            ExrCompression.Piz, new ExrTiling(32, 32), names.Select(n => noisy[n]).ToArray(), attributes);
        var idPlane = Enumerable.Range(0, 20 * 10).Select(i => (float)i).ToArray();
        var ids = new ExrPart("ids", ExrBox.FromSize(20, 10), display, [new ExrChannel("id", ExrPixelType.UInt)], ExrCompression.Zip, null, [idPlane]);
        var path = dir.Combine("frame.exr");
        ExrFile.Write(path, new ExrImage([ids, beauty]));
        var written = ExrFile.Read(path);

        using var session = new OnnxModelSession(HdrModel(), cpuOnly: true);
        var frame = ExrFrame.Read(path, HdrFrameSynthesizer.InputChannels, HdrFrameSynthesizer.Beauty);
        Assert.Equal(1, frame.PartIndex);
        Assert.Equal(1, frame.NonFinite);
        var clock = Stopwatch.StartNew();
        var denoised = TiledInference.Run(session.Run, frame.Values, 9, frame.Height, frame.Width, new TileLayout(64, 32, 8));
        output.WriteLine($"{width}x{height}: {clock.Elapsed.TotalMilliseconds:F0} ms");
        ExrAttribute[] stamp = [ExrAttribute.String("rmtc.run_id", "run-1"), ExrAttribute.String("rmtc.model_digest", new string('a', 64))];
        var result = frame.WithOutput(denoised, stamp, out var note);
        Assert.Null(note);
        var outPath = dir.Combine("out.exr");
        ExrFile.Write(outPath, result);

        var back = ExrFile.Read(outPath);
        Assert.Equal(["ids", "ViewLayer"], back.Parts.Select(p => p.Name));
        Assert.Equal(written.Parts[0].Pixels![0], back.Parts[0]["id"]);
        var before = written.Parts[1];
        var after = back.Parts[1];
        Assert.Equal(before.Channels, after.Channels);
        Assert.Equal(data, after.DataWindow);
        Assert.Equal(display, after.DisplayWindow);
        Assert.Equal(ExrCompression.Piz, after.Compression);
        Assert.Equal(new ExrTiling(32, 32), after.Tiling);
        Assert.Equal("Studio A", after.Attribute("owner")?.Text);
        Assert.Equal(15.0, after.Attribute("worldToCamera")!.Numbers[15]);
        Assert.Equal("run-1", after.Attribute("rmtc.run_id")?.Text);
        Assert.Equal(new string('a', 64), after.Attribute("rmtc.model_digest")?.Text);
        foreach (var channel in before.Channels)
        {
            var index = HdrFrameSynthesizer.Beauty.ToList().IndexOf(channel.Name);
            if (index < 0)
            {
                Assert.Equal(before[channel.Name], after[channel.Name]);
                continue;
            }

            // The denoised beauty, stored as the channel's own type (half here).
            var expected = denoised.AsSpan(index * width * height, width * height).ToArray().Select(v => (float)(Half)v);
            Assert.Equal(expected, after[channel.Name]);
            Assert.All(after[channel.Name], v => Assert.True(float.IsFinite(v) && v >= 0));
        }
    }

    [Fact]
    public void Channels_are_found_under_another_view_layer_and_missing_ones_are_named()
    {
        using var dir = new TempDirectory();
        var (_, noisy) = HdrFrameSynthesizer.Frame(16, 16, 1);
        var renamed = noisy.ToDictionary(kv => kv.Key.Replace("ViewLayer.", "RenderLayer.", StringComparison.Ordinal), kv => kv.Value);
        HdrFrameSynthesizer.WriteExr(dir.Combine("other-layer.exr"), renamed, 16, 16);
        var frame = ExrFrame.Read(dir.Combine("other-layer.exr"), HdrFrameSynthesizer.InputChannels, HdrFrameSynthesizer.Beauty);
        Assert.Equal("RenderLayer.Denoising Albedo.R", frame.InputChannels[3]);
        Assert.Equal("RenderLayer.Combined.B", frame.TargetChannels[2]);

        var noNormals = noisy.Where(kv => !kv.Key.Contains("Normal", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        HdrFrameSynthesizer.WriteExr(dir.Combine("no-normals.exr"), noNormals, 16, 16);
        var e = Assert.Throws<InvalidDataException>(() => ExrFrame.Read(dir.Combine("no-normals.exr"), HdrFrameSynthesizer.InputChannels, HdrFrameSynthesizer.Beauty));
        Assert.Contains("no-normals.exr", e.Message, StringComparison.Ordinal);
        Assert.Contains("lacks ViewLayer.Denoising Normal.X, ViewLayer.Denoising Normal.Y, ViewLayer.Denoising Normal.Z", e.Message, StringComparison.Ordinal);
        Assert.Contains("it has ViewLayer.Combined.A", e.Message, StringComparison.Ordinal);
    }
}
