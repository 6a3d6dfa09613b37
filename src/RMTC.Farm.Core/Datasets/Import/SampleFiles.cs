using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Datasets.Import;

/// <summary>Writes one sample per safetensors file, as <see cref="DatasetKinds"/> describes.</summary>
internal static class SampleFiles
{
    /// <summary>Relative path of sample <paramref name="index"/> of a split (or of the whole dataset when <paramref name="split"/> is null).</summary>
    public static string PathOf(string? split, int index) =>
        $"{Dataset.SamplesFolder}/{(split is null ? "" : split + "/")}{index:D6}{Dataset.SampleExtension}";

    public static void WriteLabelled(string path, int[] shape, ReadOnlySpan<float> input, long label)
    {
        var labelBytes = BitConverter.GetBytes(label);
        if (!BitConverter.IsLittleEndian)
        {
            Array.Reverse(labelBytes);
        }

        Safetensors.WriteFile(path,
        [
            NamedTensor.FromFloats(DatasetKinds.InputTensor, [shape[0], shape[1], shape[2]], input),
            new NamedTensor(DatasetKinds.LabelTensor, TensorDType.I64, [], labelBytes),
        ]);
    }

    public static void WritePair(string path, int[] shape, ReadOnlySpan<float> input, ReadOnlySpan<float> target) =>
        Safetensors.WriteFile(path,
        [
            NamedTensor.FromFloats(DatasetKinds.InputTensor, [shape[0], shape[1], shape[2]], input),
            NamedTensor.FromFloats(DatasetKinds.TargetTensor, [shape[0], shape[1], shape[2]], target),
        ]);

    /// <summary>Refuses to write into a directory that already holds a dataset or samples, so an import never mixes with old data.</summary>
    public static void PrepareOutput(string directory)
    {
        if (File.Exists(Path.Combine(directory, Dataset.DescriptorFileName)) || Directory.Exists(Path.Combine(directory, Dataset.SamplesFolder)))
        {
            throw new DatasetException($"{directory} already holds a dataset: import into a new directory");
        }

        Directory.CreateDirectory(Path.Combine(directory, Dataset.SamplesFolder));
    }

    /// <summary>
    /// Runs <paramref name="write"/> for samples 0..count-1 in parallel. On the first failure the new
    /// <c>samples/</c> folder is removed (it did not exist before the import, and no half-imported dataset is left to be
    /// mistaken for a whole one; <c>dataset.yaml</c> is only written at the end) and the failure is rethrown as itself.
    /// </summary>
    public static void WriteAll(string outputDirectory, int count, Action<int> write)
    {
        try
        {
            Parallel.For(0, count, write);
        }
        catch (AggregateException e)
        {
            Directory.Delete(Path.Combine(outputDirectory, Dataset.SamplesFolder), recursive: true);
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }
}
