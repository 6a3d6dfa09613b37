using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Datasets.Import;
using RMTC.Farm.Core.Datasets.Render;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Images.Exr;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Tests.Import;

/// <summary><c>rmtc dataset import exr</c>: render pairs by channel name, patches, splits and source digests.</summary>
public sealed class RenderPairImportTests : IDisposable
{
    private static readonly string[] Blender =
    [
        "ViewLayer.Combined.R", "ViewLayer.Combined.G", "ViewLayer.Combined.B", "ViewLayer.Combined.A",
        "ViewLayer.Denoising Albedo.R", "ViewLayer.Denoising Albedo.G", "ViewLayer.Denoising Albedo.B",
        "ViewLayer.Denoising Normal.X", "ViewLayer.Denoising Normal.Y", "ViewLayer.Denoising Normal.Z",
        "ViewLayer.Denoising Depth.Z",
    ];

    private readonly string dir = TestFiles.TempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string At(params string[] parts) => Path.Combine([dir, .. parts]);

    private static DatasetMetadata Meta => new() { Licence = "CC0-1.0" };

    /// <summary>A frame whose channel c at (x, y) holds c·10000 + y·100 + x + offset, as float.</summary>
    private static void WriteFrame(string path, string[] channels, int width, int height, float offset)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var planes = channels.Select((_, c) =>
        {
            var plane = new float[width * height];
            for (var i = 0; i < plane.Length; i++)
            {
                plane[i] = (c * 10000) + ((i / width) * 100) + (i % width) + offset;
            }

            return plane;
        }).ToList();
        var box = ExrBox.FromSize(width, height);
        var sorted = channels.Select((name, c) => (name, c)).OrderBy(p => p.name, StringComparer.Ordinal).ToList();
        var part = new ExrPart(null, box, box, sorted.Select(p => new ExrChannel(p.name, ExrPixelType.Float)).ToList(), pixels: sorted.Select(p => planes[p.c]).ToList());
        ExrFile.Write(path, new ExrImage([part]), ExrCompression.Zip);
    }

    private void Pairs(string root, string[] names, string[] channels, int width = 100, int height = 70)
    {
        // Frame i is offset by i/8, so no two files have the same bytes.
        for (var i = 0; i < names.Length; i++)
        {
            WriteFrame(Path.Combine(root, "noisy", names[i]), channels, width, height, i * 0.125f);
            WriteFrame(Path.Combine(root, "clean", names[i]), channels, width, height, 0.5f + (i * 0.125f));
        }
    }

    [Fact]
    public void Blender_frames_become_patches_of_the_named_channels_with_the_sources_recorded()
    {
        Pairs(At("src"), ["shot_0001.exr", "shot_0002.exr"], Blender);
        var lines = new List<string>();

        var counts = RenderPairImport.Import(At("src"), At("out"), Meta, new RenderImportOptions(), new Progress(lines));

        // 100x70 with patch 64, stride 48: x at 0 and 36 (flush), y at 0 and 6 (flush): 4 patches a frame.
        Assert.Equal(8, counts[""]);
        Assert.Contains(lines, l => l.Contains("frames 2/2, 8 patches", StringComparison.Ordinal));
        var dataset = Dataset.Open(At("out"));
        var d = dataset.Descriptor;
        Assert.Equal(DatasetKinds.RenderPairs, d.Kind);
        Assert.Equal([9, 64, 64], d.SampleShape);
        var render = Assert.IsType<RenderPatching>(d.Render);
        Assert.Equal(
            ["ViewLayer.Combined.R", "ViewLayer.Combined.G", "ViewLayer.Combined.B", "ViewLayer.Denoising Albedo.R", "ViewLayer.Denoising Albedo.G", "ViewLayer.Denoising Albedo.B", "ViewLayer.Denoising Normal.X", "ViewLayer.Denoising Normal.Y", "ViewLayer.Denoising Normal.Z"],
            render.Input);
        Assert.Equal(["ViewLayer.Combined.R", "ViewLayer.Combined.G", "ViewLayer.Combined.B"], render.Target);
        Assert.Equal((64, 48, RenderSplits.None), (render.Patch, render.Stride, render.SplitBy));
        Assert.Equal(8, dataset.Samples.Count);

        var frame = render.Frames.Single(f => f.Name == "shot_0002.exr");
        Assert.Equal(("shot", "samples/shot_0002", 4), (frame.Scene, frame.Samples, frame.Patches));
        Assert.Equal(Sha256Digest.OfFile(At("src", "noisy", "shot_0002.exr")), frame.Noisy.Sha256);
        Assert.Equal(Sha256Digest.OfFile(At("src", "clean", "shot_0002.exr")), frame.Clean.Sha256);
        Assert.Equal("clean/shot_0002.exr", frame.Clean.Path);
        Assert.Same(frame, render.FrameOf("samples/shot_0002/0003.safetensors"));
        Assert.Same(frame, render.FramesOf(frame.Clean.Sha256).Single());

        // What a run records as its assets and what withdrawing a render takes out.
        Assert.Equal(
            [(At("src", "noisy", "shot_0002.exr"), frame.Noisy.Sha256), (At("src", "clean", "shot_0002.exr"), frame.Clean.Sha256)],
            render.SourcesOf(["samples/shot_0002/0000.safetensors", "samples/shot_0002/0001.safetensors"]).ToList());
        var withdrawn = new HashSet<string>(StringComparer.Ordinal) { frame.Clean.Sha256 };
        Assert.Equal(4, dataset.Samples.Count(a => render.CutFrom(a.RelativePath, withdrawn)));
        Assert.All(dataset.Samples.Where(a => render.CutFrom(a.RelativePath, withdrawn)), a => Assert.StartsWith("samples/shot_0002/", a.RelativePath));

        // Patch 1 of a frame is the one at x = 36, y = 0: input channel 3 is albedo R (file channel 4), target the clean beauty.
        var (tensors, metadata) = Safetensors.ReadFile(At("out", "samples", "shot_0002", "0001.safetensors"));
        Assert.Equal(("36", "0", "shot_0002.exr"), (metadata["rmtc.patch_x"], metadata["rmtc.patch_y"], metadata["rmtc.frame"]));
        var input = tensors.Single(t => t.Name == "input").AsFloat32().ToArray();
        var target = tensors.Single(t => t.Name == "target");
        Assert.Equal([3L, 64, 64], target.Shape);
        Assert.Equal((4 * 10000) + (5 * 100) + 36 + 7 + 0.125f, input[(3 * 64 * 64) + (5 * 64) + 7]);
        Assert.Equal((2 * 10000) + 36 + 0.625f, target.AsFloat32()[2 * 64 * 64]);

        // The descriptor reads back as written.
        var again = Dataset.ParseDescriptor(File.ReadAllText(At("out", "dataset.yaml")));
        Assert.Equal(render.Frames.Select(f => (f.Name, f.Noisy.Sha256, f.Clean.Sha256, f.Samples)), again.Render!.Frames.Select(f => (f.Name, f.Noisy.Sha256, f.Clean.Sha256, f.Samples)));
    }

    [Fact]
    public void The_same_frames_import_to_the_same_dataset()
    {
        Pairs(At("src"), ["a_01.exr", "a_02.exr", "b_01.exr"], Blender, 90, 90);
        var options = new RenderImportOptions { Patch = 32, Stride = 24, SplitBy = RenderSplits.Frame, Holdout = 0.34 };
        RenderPairImport.Import(At("src"), At("one"), Meta, options);
        RenderPairImport.Import(At("src"), At("two"), Meta, options);
        Assert.Equal(Dataset.Open(At("one")).Digest, Dataset.Open(At("two")).Digest);
        Assert.Equal(File.ReadAllText(At("one", "dataset.yaml")).Replace(At("one"), ""), File.ReadAllText(At("two", "dataset.yaml")).Replace(At("two"), ""));
    }

    [Theory]
    [InlineData(RenderSplits.Scene)]
    [InlineData(RenderSplits.Frame)]
    public void Held_out_frames_and_scenes_never_reach_training(string splitBy)
    {
        string[] names = ["sceneA/0001.exr", "sceneA/0002.exr", "sceneB/0001.exr", "sceneB/0002.exr", "sceneC/0001.exr", "sceneD/0001.exr"];
        Pairs(At("src"), names, Blender, 64, 64);

        RenderPairImport.Import(At("src"), At("out"), Meta, new RenderImportOptions { SplitBy = splitBy, Holdout = 0.25 });

        var dataset = Dataset.Open(At("out"));
        var render = dataset.Descriptor.Render!;
        var data = TrainingData.Select(dataset, null);
        var trainFrames = data.Train.Select(a => render.FrameOf(a.RelativePath)!).ToHashSet();
        var testFrames = data.Evaluation.Select(a => render.FrameOf(a.RelativePath)!).ToHashSet();
        Assert.NotEmpty(trainFrames);
        Assert.NotEmpty(testFrames);
        Assert.Empty(trainFrames.Intersect(testFrames));
        Assert.Equal(render.Frames.Count, trainFrames.Count + testFrames.Count);
        Assert.All(testFrames, f => Assert.Equal(DatasetSplits.Test, f.Split));
        if (splitBy == RenderSplits.Scene)
        {
            // Every frame of a held-out scene is held out.
            Assert.Empty(trainFrames.Select(f => f.Scene).Intersect(testFrames.Select(f => f.Scene)));
        }
    }

    [Fact]
    public void Train_and_test_folders_are_the_splits()
    {
        Pairs(At("src", "train"), ["s1_0001.exr", "s2_0001.exr"], Blender, 64, 64);
        Pairs(At("src", "test"), ["s3_0001.exr"], Blender, 64, 64);

        var counts = RenderPairImport.Import(At("src"), At("out"), Meta, new RenderImportOptions());

        Assert.Equal((2, 1), (counts["train"], counts["test"]));
        var render = Dataset.ReadDescriptor(At("out")).Render!;
        Assert.Equal(RenderSplits.Folders, render.SplitBy);
        Assert.Equal("test/noisy/s3_0001.exr", render.Frames.Single(f => f.Split == "test").Noisy.Path);
        Assert.Contains("already has train/", Assert.Throws<DatasetException>(() =>
            RenderPairImport.Import(At("src"), At("other"), Meta, new RenderImportOptions { SplitBy = "scene", Holdout = 0.5 })).Message);
    }

    [Theory]
    [InlineData("arnold", new[] { "A", "B", "G", "R", "albedo.B", "albedo.G", "albedo.R", "N.X", "N.Y", "N.Z", "Z" }, "R,G,B,albedo.R,albedo.G,albedo.B,N.X,N.Y,N.Z")]
    [InlineData("renderman", new[] { "Ci.r", "Ci.g", "Ci.b", "a", "albedo.r", "albedo.g", "albedo.b", "normal.x", "normal.y", "normal.z" }, "Ci.r,Ci.g,Ci.b,albedo.r,albedo.g,albedo.b,normal.x,normal.y,normal.z")]
    public void Arnold_and_RenderMan_names_fit_the_defaults(string renderer, string[] channels, string expected)
    {
        Pairs(At(renderer), ["f_0001.exr"], channels, 64, 64);
        RenderPairImport.Import(At(renderer), At("out"), Meta, new RenderImportOptions());
        Assert.Equal(expected, string.Join(",", Dataset.ReadDescriptor(At("out")).Render!.Input));
    }

    [Fact]
    public void Channels_are_picked_by_name_and_a_wrong_name_lists_the_file_s_channels()
    {
        Pairs(At("src"), ["f_0001.exr"], Blender, 64, 64);

        RenderPairImport.Import(At("src"), At("picked"), Meta, new RenderImportOptions { Input = "Combined.RGB, Denoising Depth.Z", Target = "ViewLayer.Combined.R" });
        var render = Dataset.ReadDescriptor(At("picked")).Render!;
        Assert.Equal(["ViewLayer.Combined.R", "ViewLayer.Combined.G", "ViewLayer.Combined.B", "ViewLayer.Denoising Depth.Z"], render.Input);
        Assert.Equal(["ViewLayer.Combined.R"], render.Target);

        var e = Assert.Throws<DatasetException>(() => RenderPairImport.Import(At("src"), At("bad"), Meta, new RenderImportOptions { Input = "Beauty.RGB" }));
        Assert.Contains("--input 'Beauty.RGB' matches no channel", e.Message);
        Assert.Contains("'ViewLayer.Denoising Albedo.R'", e.Message);
        Assert.Contains(At("src", "noisy", "f_0001.exr"), e.Message);
        Assert.False(Directory.Exists(At("bad")));

        Pairs(At("plain"), ["f_0001.exr"], ["A", "B", "G", "R"], 64, 64);
        e = Assert.Throws<DatasetException>(() => RenderPairImport.Import(At("plain"), At("bad2"), Meta, new RenderImportOptions()));
        Assert.Contains("no albedo channels under the default names", e.Message);
        Assert.Contains("--input", e.Message);
    }

    [Fact]
    public void Broken_layouts_and_damaged_frames_are_refused_by_name()
    {
        Pairs(At("src"), ["f_0001.exr"], Blender, 64, 64);
        WriteFrame(At("src", "noisy", "f_0002.exr"), Blender, 64, 64, 0);
        Assert.Contains("has no clean counterpart", Assert.Throws<DatasetException>(() => RenderPairImport.Import(At("src"), At("o1"), Meta, new RenderImportOptions())).Message);

        File.WriteAllBytes(At("src", "clean", "f_0002.exr"), [0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0, 1, 2, 3]);
        var e = Assert.Throws<DatasetException>(() => RenderPairImport.Import(At("src"), At("o2"), Meta, new RenderImportOptions()));
        Assert.Contains(At("src", "clean", "f_0002.exr"), e.Message);
        Assert.False(Directory.Exists(At("o2", "samples")));

        // A NaN in a picked channel is refused with the pixel and the fix; in a channel not picked it does not matter.
        var channels = Blender.Order(StringComparer.Ordinal).ToList();
        var planes = channels.Select(_ => new float[64 * 64]).ToList();
        planes[channels.IndexOf("ViewLayer.Denoising Normal.Y")][(3 * 64) + 5] = float.NaN;
        planes[channels.IndexOf("ViewLayer.Denoising Depth.Z")][0] = float.PositiveInfinity;
        var box = ExrBox.FromSize(64, 64);
        Directory.CreateDirectory(At("nan", "noisy"));
        ExrFile.Write(At("nan", "noisy", "f_0001.exr"), new ExrImage([new ExrPart(null, box, box, channels.Select(c => new ExrChannel(c, ExrPixelType.Half)).ToList(), pixels: planes)]));
        WriteFrame(At("nan", "clean", "f_0001.exr"), Blender, 64, 64, 0);
        e = Assert.Throws<DatasetException>(() => RenderPairImport.Import(At("nan"), At("o5"), Meta, new RenderImportOptions()));
        Assert.Contains("channel 'ViewLayer.Denoising Normal.Y' holds NaN at pixel (5, 3)", e.Message);
        Assert.Contains("--fixnan black", e.Message);
        RenderPairImport.Import(At("nan"), At("o6"), Meta, new RenderImportOptions { Input = "Combined.RGB" });

        Pairs(At("small"), ["f_0001.exr"], Blender, 40, 80);
        Assert.Contains("smaller than --patch 64", Assert.Throws<DatasetException>(() => RenderPairImport.Import(At("small"), At("o3"), Meta, new RenderImportOptions())).Message);
        Assert.Contains("--stride 80", Assert.Throws<DatasetException>(() => RenderPairImport.Import(At("small"), At("o4"), Meta, new RenderImportOptions { Stride = 80 })).Message);
    }

    [Theory]
    [InlineData("kind: render-pairs\nsample_shape: [3, 8, 8]\n", "kind render-pairs needs a `render:` section")]
    [InlineData("kind: image-pairs\nsample_shape: [3, 8, 8]\nrender: { input: [R, G, B], target: [R], patch: 8, stride: 8 }\n", "`render:` belongs to kind render-pairs")]
    [InlineData("kind: render-pairs\nsample_shape: [3, 8, 8]\nrender: { input: [R, G], target: [R], patch: 8, stride: 8 }\n", "`render.input` names 2 channels but `sample_shape` says 3")]
    [InlineData("kind: render-pairs\nsample_shape: [1, 8, 8]\nrender: { input: [R], target: [R], patch: 8, stride: 9 }\n", "`render.stride` (9) is larger than `render.patch` (8)")]
    [InlineData("kind: render-pairs\nsample_shape: [1, 8, 8]\nrender: { input: [R], target: [R], patch: 8, stride: 8, split_by: shot }\n", "`render.split_by` is 'shot'")]
    [InlineData("kind: render-pairs\nsample_shape: [1, 8, 8]\nrender: { input: [R], target: [R], patch: 8, stride: 8, frames: [{ name: a.exr, samples: samples/a, patches: 1, noisy: { path: n, sha256: abc }, clean: { path: c, sha256: abc } }] }\n", "`noisy.sha256` must be 64 lower-case hex characters")]
    public void A_wrong_render_section_is_refused_naming_the_key(string yaml, string expected)
    {
        var e = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor("name: r\n" + yaml));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData(100, 64, 48, new[] { 0, 36 })]
    [InlineData(64, 64, 48, new[] { 0 })]
    [InlineData(160, 64, 48, new[] { 0, 48, 96 })]
    [InlineData(170, 64, 48, new[] { 0, 48, 96, 106 })]
    public void Patch_origins_cover_the_frame_on_a_fixed_grid(int size, int patch, int stride, int[] expected) =>
        Assert.Equal(expected, RenderPairImport.Origins(size, patch, stride));

    [Theory]
    [InlineData("shot010_0042.exr", "shot010")]
    [InlineData("sceneB/0001.exr", "sceneB")]
    [InlineData("scene.0007.exr", "scene")]
    [InlineData("0007.exr", "0007")]
    public void A_frame_s_scene_is_its_folder_or_its_name_before_the_frame_number(string name, string scene) =>
        Assert.Equal(scene, RenderPairImport.SceneOf(name));

    private sealed class Progress(List<string> lines) : IProgress<string>
    {
        public void Report(string value)
        {
            lock (lines)
            {
                lines.Add(value);
            }
        }
    }
}
