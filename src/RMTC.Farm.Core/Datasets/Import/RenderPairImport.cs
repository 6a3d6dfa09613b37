using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RMTC.Farm.Core.Datasets.Render;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Images.Exr;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Datasets.Import;

/// <summary>
/// Imports render pairs: <c>noisy/</c> and <c>clean/</c> folders of EXR frames with the same relative names (subfolders
/// are scenes), or <c>train/</c> and <c>test/</c> folders each holding such a pair. Each frame pair is cut into square
/// patches on a fixed grid (stride apart, the last row and column flush to the edge, so the same frames always give the
/// same patches); each patch becomes one <c>render-pairs</c> sample (<see cref="DatasetKinds.RenderPairs"/>). Held-out
/// frames are chosen whole (by frame or by scene), so no pixel of a held-out frame reaches training. The source EXR
/// files are the dataset's assets in lineage: their sha256 digests are recorded with the frames they made.
/// </summary>
public static class RenderPairImport
{
    private const string Noisy = "noisy";
    private const string Clean = "clean";

    /// <summary>One frame pair to import.</summary>
    private sealed record FramePlan(string Name, string Scene, string? Split, string NoisyPath, string CleanPath, string RelativeNoisy, string RelativeClean);

    /// <summary>Imports <paramref name="sourceDirectory"/>; returns the patches written per split ("" when the dataset has no splits).</summary>
    public static IReadOnlyDictionary<string, int> Import(string sourceDirectory, string outputDirectory, DatasetMetadata metadata, RenderImportOptions options, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var source = Path.GetFullPath(sourceDirectory);
        if (!Directory.Exists(source))
        {
            throw new DatasetException($"render folder {source} does not exist");
        }

        var (frames, splitBy) = PlanFrames(source, options);
        var first = frames[0];
        var inputChannels = RenderChannels.Resolve(ChannelsOf(first.NoisyPath), options.Input, RenderChannels.DefaultInput, first.NoisyPath, "--input");
        var targetChannels = RenderChannels.Resolve(ChannelsOf(first.CleanPath), options.Target, RenderChannels.DefaultTarget, first.CleanPath, "--target");
        progress?.Report($"{frames.Count} frame pairs; input {string.Join(", ", inputChannels)}; target {string.Join(", ", targetChannels)}");

        var output = Path.GetFullPath(outputDirectory);
        SampleFiles.PrepareOutput(output);
        var records = new RenderFrame[frames.Count];
        var done = 0;
        long patches = 0;
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        var gate = new object();
        SampleFiles.WriteAll(output, frames.Count, i =>
        {
            records[i] = ImportFrame(frames[i], options, inputChannels, targetChannels, output);
            lock (gate)
            {
                done++;
                patches += records[i].Patches;
                // A line every two seconds (and at the end) shows a long import moving without flooding the console.
                if (progress is not null && (clock.Elapsed - lastReport > TimeSpan.FromSeconds(2) || done == frames.Count))
                {
                    lastReport = clock.Elapsed;
                    var seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
                    progress.Report(string.Create(CultureInfo.InvariantCulture, $"frames {done}/{frames.Count}, {patches} patches ({done / seconds:F1} frames/s, {patches / seconds:F0} patches/s)"));
                }
            }
        });

        var splits = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var split in frames.Select(f => f.Split).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            splits[split] = $"{Dataset.SamplesFolder}/{split}";
        }

        var descriptor = metadata.ToDescriptor(Path.GetFileName(source), DatasetKinds.RenderPairs, [inputChannels.Count, options.Patch, options.Patch], [], splits);
        descriptor.Render = new RenderPatching
        {
            Source = source,
            Input = inputChannels.ToList(),
            Target = targetChannels.ToList(),
            Patch = options.Patch,
            Stride = options.Stride,
            SplitBy = splitBy,
            Frames = records.ToList(),
        };
        Dataset.WriteDescriptor(output, descriptor);
        return records.GroupBy(r => r.Split, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(r => r.Patches), StringComparer.Ordinal);
    }

    /// <summary>Patch origins along one side: every <paramref name="stride"/> pixels, plus one flush to the far edge.</summary>
    public static IReadOnlyList<int> Origins(int size, int patch, int stride)
    {
        var origins = new List<int>();
        for (var at = 0; at + patch <= size; at += stride)
        {
            origins.Add(at);
        }

        if (origins.Count > 0 && origins[^1] + patch < size)
        {
            origins.Add(size - patch);
        }

        return origins;
    }

    private static (List<FramePlan> Frames, string SplitBy) PlanFrames(string source, RenderImportOptions options)
    {
        var folders = new[] { DatasetSplits.Train, DatasetSplits.Test }.Where(s => Directory.Exists(Path.Combine(source, s))).ToList();
        if (folders.Count > 0 && options.SplitBy is not null)
        {
            throw new DatasetException($"{source} already has {string.Join(" and ", folders.Select(f => f + "/"))} folders, which are its splits: drop --split-by and --holdout, or import a folder without them");
        }

        var frames = new List<FramePlan>();
        if (folders.Count > 0)
        {
            foreach (var split in folders)
            {
                frames.AddRange(PairsIn(source, split));
            }
        }
        else
        {
            frames.AddRange(PairsIn(source, null));
        }

        if (frames.Count == 0)
        {
            throw new DatasetException($"{source}: no .exr frames in {Noisy}/ (expected {Noisy}/ and {Clean}/ with files of the same names, optionally under train/ and test/)");
        }

        if (folders.Count > 0)
        {
            return (frames, RenderSplits.Folders);
        }

        if (options.SplitBy is null)
        {
            return (frames, RenderSplits.None);
        }

        // Held-out groups are drawn by a hash of their names, so adding frames later never moves an old one across splits.
        var byScene = options.SplitBy == RenderSplits.Scene;
        var groups = frames.Select(f => byScene ? f.Scene : f.Name).Distinct(StringComparer.Ordinal)
            .OrderBy(g => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(g))), StringComparer.Ordinal).ToList();
        var held = (int)Math.Round(options.Holdout * groups.Count, MidpointRounding.AwayFromZero);
        held = Math.Max(1, held);
        if (held >= groups.Count)
        {
            throw new DatasetException($"--holdout {options.Holdout} of {groups.Count} {options.SplitBy}(s) leaves none to train on: lower it or add {options.SplitBy}s");
        }

        var test = groups.Take(held).ToHashSet(StringComparer.Ordinal);
        return (frames.Select(f => f with { Split = test.Contains(byScene ? f.Scene : f.Name) ? DatasetSplits.Test : DatasetSplits.Train }).ToList(), options.SplitBy);
    }

    private static List<FramePlan> PairsIn(string source, string? split)
    {
        var root = split is null ? source : Path.Combine(source, split);
        var noisy = Path.Combine(root, Noisy);
        var clean = Path.Combine(root, Clean);
        if (!Directory.Exists(noisy) || !Directory.Exists(clean))
        {
            throw new DatasetException($"{root}: render pairs need both {Noisy}/ and {Clean}/ folders (same file names in each)");
        }

        var inputs = Exrs(noisy);
        var targets = Exrs(clean).ToHashSet(StringComparer.Ordinal);
        var frames = new List<FramePlan>();
        foreach (var name in inputs)
        {
            if (!targets.Remove(name))
            {
                throw new DatasetException($"{Path.Combine(noisy, name)} has no clean counterpart: expected {Path.Combine(clean, name)}");
            }

            var prefix = split is null ? "" : split + "/";
            frames.Add(new FramePlan(name, SceneOf(name), split, Path.Combine(noisy, name), Path.Combine(clean, name), $"{prefix}{Noisy}/{name}", $"{prefix}{Clean}/{name}"));
        }

        if (targets.Count > 0)
        {
            throw new DatasetException($"{Path.Combine(clean, targets.Order(StringComparer.Ordinal).First())} has no noisy counterpart: expected {Path.Combine(noisy, targets.Order(StringComparer.Ordinal).First())}");
        }

        return frames;
    }

    /// <summary>EXR files under <paramref name="folder"/>, as sorted '/'-separated relative paths.</summary>
    private static List<string> Exrs(string folder) =>
        Directory.EnumerateFiles(folder, "*", new EnumerationOptions { RecurseSubdirectories = true })
            .Where(f => f.EndsWith(".exr", StringComparison.OrdinalIgnoreCase) && !Path.GetFileName(f).StartsWith('.'))
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>A frame's scene: its folder when it has one, else its name without the trailing frame number (<c>shot010_0042.exr</c> → <c>shot010</c>).</summary>
    public static string SceneOf(string relativeName)
    {
        var slash = relativeName.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            return relativeName[..slash];
        }

        var stem = Path.GetFileNameWithoutExtension(relativeName);
        var end = stem.Length;
        while (end > 0 && char.IsAsciiDigit(stem[end - 1]))
        {
            end--;
        }

        while (end > 0 && stem[end - 1] is '_' or '.' or '-')
        {
            end--;
        }

        return end == 0 ? stem : stem[..end];
    }

    private static IReadOnlyList<string> ChannelsOf(string path) => FullNames(ReadExr(path, pixels: false)).Select(c => c.Name).ToList();

    /// <summary>Every channel with the part and index it lives in; multi-part files prefix the part's name.</summary>
    private static List<(string Name, int Part, int Index)> FullNames(ExrImage image)
    {
        var names = new List<(string, int, int)>();
        for (var p = 0; p < image.Parts.Count; p++)
        {
            var part = image.Parts[p];
            for (var c = 0; c < part.Channels.Count; c++)
            {
                var prefix = image.Parts.Count > 1 && part.Name is { Length: > 0 } n ? n + "." : "";
                names.Add((prefix + part.Channels[c].Name, p, c));
            }
        }

        return names;
    }

    private static ExrImage ReadExr(string path, bool pixels)
    {
        try
        {
            return pixels ? ExrFile.Read(path) : ExrFile.ReadHeader(path);
        }
        catch (ExrFormatException e)
        {
            throw new DatasetException(e.Message.Contains(path, StringComparison.Ordinal) ? e.Message : $"{path}: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"cannot read {path}: {e.Message}");
        }
    }

    /// <summary>The planes of <paramref name="wanted"/> channels and the frame's size; all must share one data window.</summary>
    private static (float[][] Planes, int Width, int Height) Planes(string path, IReadOnlyList<string> wanted, string option)
    {
        var image = ReadExr(path, pixels: true);
        var names = FullNames(image);
        var planes = new float[wanted.Count][];
        ExrBox? window = null;
        for (var i = 0; i < wanted.Count; i++)
        {
            var hit = names.FirstOrDefault(n => string.Equals(n.Name, wanted[i], StringComparison.Ordinal));
            if (hit.Name is null)
            {
                throw new DatasetException($"{path} has no channel '{wanted[i]}' ({option} picked it in the first frame); it has {string.Join(", ", names.Select(n => $"'{n.Name}'"))}. Render every frame with the same passes");
            }

            var part = image.Parts[hit.Part];
            if (window is { } w && w != part.DataWindow)
            {
                throw new DatasetException($"{path}: channel '{wanted[i]}' covers {part.DataWindow}, the others {w}; pick channels of one size");
            }

            window = part.DataWindow;
            planes[i] = part.Pixels![hit.Index];
            // One NaN or infinity poisons every loss it reaches: refuse the frame and say how to clean it.
            var bad = FirstNonFinite(planes[i]);
            if (bad >= 0)
            {
                var columns = (int)part.DataWindow.Width;
                throw new DatasetException(
                    $"{path}: channel '{wanted[i]}' holds {planes[i][bad]} at pixel ({part.DataWindow.MinX + (bad % columns)}, {part.DataWindow.MinY + (bad / columns)}); "
                    + $"training needs finite values: clean the frame with `oiiotool {path} --fixnan black -o fixed.exr`, or pick other channels");
            }
        }

        return (planes, (int)window!.Value.Width, (int)window.Value.Height);
    }

    private static int FirstNonFinite(float[] plane)
    {
        for (var i = 0; i < plane.Length; i++)
        {
            if (!float.IsFinite(plane[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static RenderFrame ImportFrame(FramePlan frame, RenderImportOptions options, IReadOnlyList<string> inputChannels, IReadOnlyList<string> targetChannels, string output)
    {
        var (input, width, height) = Planes(frame.NoisyPath, inputChannels, "--input");
        var (target, cleanWidth, cleanHeight) = Planes(frame.CleanPath, targetChannels, "--target");
        if (cleanWidth != width || cleanHeight != height)
        {
            throw new DatasetException($"size mismatch: {frame.NoisyPath} is {width}x{height}, {frame.CleanPath} is {cleanWidth}x{cleanHeight}; render both at one resolution");
        }

        var patch = options.Patch;
        if (width < patch || height < patch)
        {
            throw new DatasetException($"{frame.NoisyPath} is {width}x{height}, smaller than --patch {patch}: lower --patch to at most {Math.Min(width, height)}");
        }

        var folder = $"{Dataset.SamplesFolder}/{(frame.Split is null ? "" : frame.Split + "/")}{frame.Name[..^Path.GetExtension(frame.Name).Length]}";
        Directory.CreateDirectory(Path.Combine(output, folder));
        var xs = Origins(width, patch, options.Stride);
        var ys = Origins(height, patch, options.Stride);
        var x = new float[inputChannels.Count * patch * patch];
        var y = new float[targetChannels.Count * patch * patch];
        var index = 0;
        foreach (var oy in ys)
        {
            foreach (var ox in xs)
            {
                Cut(input, width, ox, oy, patch, x);
                Cut(target, width, ox, oy, patch, y);
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["rmtc.frame"] = frame.Name,
                    ["rmtc.patch_x"] = ox.ToString(CultureInfo.InvariantCulture),
                    ["rmtc.patch_y"] = oy.ToString(CultureInfo.InvariantCulture),
                };
                Safetensors.WriteFile(Path.Combine(output, folder, $"{index:D4}{Dataset.SampleExtension}"),
                [
                    NamedTensor.FromFloats(DatasetKinds.InputTensor, [inputChannels.Count, patch, patch], x),
                    NamedTensor.FromFloats(DatasetKinds.TargetTensor, [targetChannels.Count, patch, patch], y),
                ], metadata);
                index++;
            }
        }

        return new RenderFrame
        {
            Name = frame.Name,
            Scene = frame.Scene,
            Split = frame.Split ?? "",
            Samples = folder,
            Patches = index,
            Noisy = new RenderFile { Path = frame.RelativeNoisy, Sha256 = Sha256Digest.OfFile(frame.NoisyPath) },
            Clean = new RenderFile { Path = frame.RelativeClean, Sha256 = Sha256Digest.OfFile(frame.CleanPath) },
        };
    }

    private static void Cut(float[][] planes, int width, int ox, int oy, int patch, float[] into)
    {
        for (var c = 0; c < planes.Length; c++)
        {
            for (var row = 0; row < patch; row++)
            {
                planes[c].AsSpan(((oy + row) * width) + ox, patch).CopyTo(into.AsSpan((c * patch * patch) + (row * patch), patch));
            }
        }
    }
}
