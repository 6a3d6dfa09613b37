using System.Buffers.Binary;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Datasets;

/// <summary>Reads the class labels of <c>labelled-images</c> samples (for planning shards by label).</summary>
public static class SampleLabels
{
    /// <summary>The I64 <c>label</c> of each sample file. Throws <see cref="DatasetException"/> naming a file without one.</summary>
    public static long[] Read(string datasetDirectory, IReadOnlyList<string> relativePaths)
    {
        ArgumentNullException.ThrowIfNull(relativePaths);
        var labels = new long[relativePaths.Count];
        try
        {
            Parallel.For(0, relativePaths.Count, i =>
            {
                var path = Path.Combine(datasetDirectory, relativePaths[i]);
                IReadOnlyList<NamedTensor> tensors;
                try
                {
                    tensors = Safetensors.ReadFile(path).Tensors;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or SafetensorsFormatException)
                {
                    throw new DatasetException($"sample {relativePaths[i]}: {e.Message}");
                }

                var label = tensors.FirstOrDefault(t => t.Name == DatasetKinds.LabelTensor);
                if (label is null || label.DType != TensorDType.I64 || label.Data.Length != sizeof(long))
                {
                    throw new DatasetException($"sample {relativePaths[i]}: no I64 scalar tensor '{DatasetKinds.LabelTensor}' (by-label sharding needs labelled-images)");
                }

                labels[i] = BinaryPrimitives.ReadInt64LittleEndian(label.Data);
            });
        }
        catch (AggregateException e) when (e.InnerExceptions[0] is DatasetException d)
        {
            throw d;
        }

        return labels;
    }
}
