namespace RMTC.Farm.Core.Datasets.Import;

/// <summary>
/// Imports the MNIST family (MNIST, Fashion-MNIST, KMNIST, ...) from IDX files into a <c>labelled-images</c> dataset:
/// each image becomes one sample (<c>input</c> F32 [1, H, W] scaled to 0..1, <c>label</c> I64). The training files
/// go to <c>samples/train/</c> and the test files (<c>t10k-*</c> or <c>test-*</c>) to <c>samples/test/</c>, recorded
/// as the dataset's <c>train</c> and held-out <c>test</c> splits.
/// </summary>
public static class IdxImport
{
    /// <summary>File name prefixes of each split, as the MNIST family names them.</summary>
    private static readonly (string Split, string[] Prefixes)[] SplitFiles =
    [
        (DatasetSplits.Train, ["train"]),
        (DatasetSplits.Test, ["t10k", "test"]),
    ];

    /// <summary>
    /// Imports every split found in <paramref name="sourceDirectory"/> (<c>{prefix}-images-idx3-ubyte[.gz]</c> with
    /// <c>{prefix}-labels-idx1-ubyte[.gz]</c>) into <paramref name="outputDirectory"/>; returns the samples written per split.
    /// Throws <see cref="DatasetException"/> naming the file and fault.
    /// </summary>
    public static IReadOnlyDictionary<string, int> Import(string sourceDirectory, string outputDirectory, DatasetMetadata metadata, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var source = Path.GetFullPath(sourceDirectory);
        if (!Directory.Exists(source))
        {
            throw new DatasetException($"IDX source {source} does not exist");
        }

        var found = new List<(string Split, IdxFile Images, IdxFile Labels, string ImagesPath)>();
        foreach (var (split, prefixes) in SplitFiles)
        {
            var images = Find(source, prefixes, "images-idx3-ubyte");
            var labels = Find(source, prefixes, "labels-idx1-ubyte");
            if (images is null && labels is null)
            {
                continue;
            }

            if (images is null || labels is null)
            {
                throw new DatasetException($"{source}: found {Path.GetFileName(images ?? labels)} but not its {(images is null ? "images" : "labels")} file ({prefixes[0]}-{(images is null ? "images-idx3" : "labels-idx1")}-ubyte[.gz])");
            }

            progress?.Report($"reading {Path.GetFileName(images)} and {Path.GetFileName(labels)}");
            var img = IdxFile.Read(images, 3);
            var lab = IdxFile.Read(labels, 1);
            if (img.Count != lab.Count)
            {
                throw new DatasetException($"size mismatch: {images} holds {img.Count} images but {labels} holds {lab.Count} labels");
            }

            found.Add((split, img, lab, images));
        }

        if (found.Count == 0)
        {
            throw new DatasetException($"{source}: no IDX files found: expected train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz] (and t10k-* for the test split)");
        }

        var (height, width) = (found[0].Images.Dimensions[1], found[0].Images.Dimensions[2]);
        foreach (var f in found.Where(f => f.Images.Dimensions[1] != height || f.Images.Dimensions[2] != width))
        {
            throw new DatasetException($"size mismatch: {f.ImagesPath} holds {f.Images.Dimensions[1]}x{f.Images.Dimensions[2]} images, {found[0].ImagesPath} {height}x{width}");
        }

        var maxLabel = found.Max(f => f.Labels.Data.Max());
        var classes = metadata.Classes ?? Enumerable.Range(0, Math.Max(2, maxLabel + 1)).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        if (maxLabel >= classes.Count)
        {
            throw new DatasetException($"the labels go up to {maxLabel} but {classes.Count} class names were given: give {maxLabel + 1} names (label i names classes[i])");
        }

        var output = Path.GetFullPath(outputDirectory);
        SampleFiles.PrepareOutput(output);
        int[] shape = [1, height, width];
        var per = height * width;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var splits = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (split, images, labels, _) in found)
        {
            progress?.Report($"writing {images.Count} {split} samples");
            Directory.CreateDirectory(Path.Combine(output, Dataset.SamplesFolder, split));
            SampleFiles.WriteAll(output, images.Count, i =>
            {
                var pixels = images.Data.AsSpan(i * per, per);
                var values = new float[per];
                for (var p = 0; p < per; p++)
                {
                    values[p] = pixels[p] / 255f;
                }

                SampleFiles.WriteLabelled(Path.Combine(output, SampleFiles.PathOf(split, i)), shape, values, labels.Data[i]);
            });
            counts[split] = images.Count;
            splits[split] = $"{Dataset.SamplesFolder}/{split}";
        }

        Dataset.WriteDescriptor(output, metadata.ToDescriptor(Path.GetFileName(source), DatasetKinds.LabelledImages, shape, classes, splits));
        return counts;
    }

    private static string? Find(string directory, string[] prefixes, string stem)
    {
        foreach (var prefix in prefixes)
        {
            foreach (var name in new[] { $"{prefix}-{stem}", $"{prefix}-{stem}.gz", $"{prefix}-{stem.Replace("-idx", ".idx", StringComparison.Ordinal)}", $"{prefix}-{stem.Replace("-idx", ".idx", StringComparison.Ordinal)}.gz" })
            {
                var path = Path.Combine(directory, name);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }

        return null;
    }
}
