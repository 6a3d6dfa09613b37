using RMTC.Farm.Core.Images;

namespace RMTC.Farm.Core.Datasets.Import;

/// <summary>
/// Imports folders of 8-bit PNG images: one folder per class (a <c>labelled-images</c> dataset, classes in ordinal
/// order of the folder names) or paired <c>noisy/</c> and <c>clean/</c> folders holding files of the same names (an
/// <c>image-pairs</c> dataset). When the source holds <c>train/</c> and/or <c>test/</c> folders, each is imported as
/// that split (the test split is held out from training). Pixels are scaled to 0..1, channels first; every image must
/// have the size and channel count of the first.
/// </summary>
public static class ImageFolderImport
{
    private const string Noisy = "noisy";
    private const string Clean = "clean";

    /// <summary>Imports <paramref name="sourceDirectory"/>; returns the samples written per split ("" when the source has no splits).</summary>
    public static IReadOnlyDictionary<string, int> Import(string sourceDirectory, string outputDirectory, DatasetMetadata metadata, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var source = Path.GetFullPath(sourceDirectory);
        if (!Directory.Exists(source))
        {
            throw new DatasetException($"image folder {source} does not exist");
        }

        var roots = new List<(string? Split, string Folder)>();
        foreach (var split in new[] { DatasetSplits.Train, DatasetSplits.Test })
        {
            if (Directory.Exists(Path.Combine(source, split)))
            {
                roots.Add((split, Path.Combine(source, split)));
            }
        }

        if (roots.Count == 0)
        {
            roots.Add((null, source));
        }

        var pairs = roots.All(r => Directory.Exists(Path.Combine(r.Folder, Noisy)));
        if (!pairs && roots.Any(r => Directory.Exists(Path.Combine(r.Folder, Noisy)) || Directory.Exists(Path.Combine(r.Folder, Clean))))
        {
            throw new DatasetException($"{source}: every split needs both {Noisy}/ and {Clean}/ folders for paired images, or class folders for labelled ones, not a mix");
        }

        // Sample lists first: a wrong layout is reported before anything is written.
        var plans = new List<(string? Split, List<(string Input, string? Target, long Label)> Items)>();
        var classes = pairs ? [] : ClassNames(roots.Select(r => r.Folder), source);
        foreach (var (split, folder) in roots)
        {
            plans.Add((split, pairs ? PairItems(folder) : LabelledItems(folder, classes)));
        }

        var given = metadata.Classes;
        if (!pairs && given is not null && given.Count != classes.Count)
        {
            throw new DatasetException($"{given.Count} class names were given but {source} has {classes.Count} class folders ({string.Join(", ", classes)})");
        }

        var first = plans.SelectMany(p => p.Items).FirstOrDefault().Input
            ?? throw new DatasetException($"{source}: no .png images found");
        var reference = Read(first);
        int[] shape = [reference.Channels, reference.Height, reference.Width];
        var output = Path.GetFullPath(outputDirectory);
        SampleFiles.PrepareOutput(output);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var splits = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (split, items) in plans)
        {
            progress?.Report($"writing {items.Count} {split ?? "all"} samples");
            Directory.CreateDirectory(Path.Combine(output, Dataset.SamplesFolder, split ?? ""));
            SampleFiles.WriteAll(output, items.Count, i =>
            {
                var (input, target, label) = items[i];
                var path = Path.Combine(output, SampleFiles.PathOf(split, i));
                var x = ToTensor(Read(input), shape, input);
                if (target is null)
                {
                    SampleFiles.WriteLabelled(path, shape, x, label);
                }
                else
                {
                    SampleFiles.WritePair(path, shape, x, ToTensor(Read(target), shape, target));
                }
            });
            counts[split ?? ""] = items.Count;
            if (split is not null)
            {
                splits[split] = $"{Dataset.SamplesFolder}/{split}";
            }
        }

        var kind = pairs ? DatasetKinds.ImagePairs : DatasetKinds.LabelledImages;
        Dataset.WriteDescriptor(output, metadata.ToDescriptor(Path.GetFileName(source), kind, shape, given ?? classes, splits));
        return counts;
    }

    private static List<string> ClassNames(IEnumerable<string> roots, string source)
    {
        var names = roots.SelectMany(r => Directory.EnumerateDirectories(r).Select(Path.GetFileName).OfType<string>())
            .Where(n => !n.StartsWith('.'))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
        if (names.Count < 2)
        {
            throw new DatasetException($"{source}: found {names.Count} class folder(s); a labelled image folder needs one folder per class (at least two), or {Noisy}/ + {Clean}/ for pairs");
        }

        return names;
    }

    private static List<(string, string?, long)> LabelledItems(string folder, List<string> classes)
    {
        var items = new List<(string, string?, long)>();
        for (var label = 0; label < classes.Count; label++)
        {
            var dir = Path.Combine(folder, classes[label]);
            if (Directory.Exists(dir))
            {
                items.AddRange(Pngs(dir).Select(p => (p, (string?)null, (long)label)));
            }
        }

        return items;
    }

    private static List<(string, string?, long)> PairItems(string folder)
    {
        var noisy = Path.Combine(folder, Noisy);
        var clean = Path.Combine(folder, Clean);
        if (!Directory.Exists(clean))
        {
            throw new DatasetException($"{folder}: has {Noisy}/ but no {Clean}/ folder: pairs need both");
        }

        var inputs = Pngs(noisy);
        var targets = Pngs(clean).ToDictionary(p => Path.GetFileName(p), StringComparer.Ordinal);
        var items = new List<(string, string?, long)>();
        foreach (var input in inputs)
        {
            var name = Path.GetFileName(input);
            if (!targets.Remove(name, out var target))
            {
                throw new DatasetException($"{input} has no clean counterpart: expected {Path.Combine(clean, name)}");
            }

            items.Add((input, target, 0));
        }

        if (targets.Count > 0)
        {
            throw new DatasetException($"{targets.Values.First()} has no noisy counterpart: expected {Path.Combine(noisy, targets.Keys.First())}");
        }

        return items;
    }

    private static List<string> Pngs(string directory) =>
        Directory.EnumerateFiles(directory)
            .Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) && !Path.GetFileName(f).StartsWith('.'))
            .Order(StringComparer.Ordinal)
            .ToList();

    private static Image8 Read(string path)
    {
        try
        {
            return Png.ReadFile(path);
        }
        catch (PngFormatException e)
        {
            throw new DatasetException($"{path}: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"cannot read {path}: {e.Message}");
        }
    }

    private static float[] ToTensor(Image8 image, int[] shape, string path)
    {
        if (image.Channels != shape[0] || image.Height != shape[1] || image.Width != shape[2])
        {
            throw new DatasetException($"size mismatch: {path} is {image.Width}x{image.Height} with {image.Channels} channel(s), the first image is {shape[2]}x{shape[1]} with {shape[0]}; resize or convert the images to one format");
        }

        var plane = image.Width * image.Height;
        var values = new float[image.Channels * plane];
        for (var p = 0; p < plane; p++)
        {
            for (var c = 0; c < image.Channels; c++)
            {
                values[c * plane + p] = image.Pixels[p * image.Channels + c] / 255f;
            }
        }

        return values;
    }
}
