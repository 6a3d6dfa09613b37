using System.Buffers.Binary;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Training.Loop;

/// <summary>A shard's samples in memory: inputs [N,C,H,W] and F32 targets (image-pairs) or I64 labels (labelled-images).</summary>
internal sealed class SampleBatchSource
{
    public required int Count { get; init; }
    public required int[] SampleShape { get; init; }
    /// <summary>Shape of one target: the sample shape for image-pairs, [T,H,W] for render-pairs.</summary>
    public int[]? TargetShape { get; init; }
    public required float[] Inputs { get; init; }
    /// <summary>F32 targets [N,C,H,W] (image-pairs) or [N,T,H,W] (render-pairs); null otherwise.</summary>
    public float[]? Targets { get; init; }
    /// <summary>Class indices for labelled-images; null otherwise.</summary>
    public long[]? Labels { get; init; }
}

/// <summary>
/// Reads sample files (<c>input</c> F32 [C,H,W]; <c>target</c> F32 [C,H,W] or <c>label</c> I64 []) and checks them
/// against the dataset descriptor. Throws <see cref="DatasetException"/> naming the file at fault.
/// </summary>
/// <remarks>
/// The one place that knows how samples are stored: <c>render-pairs</c> samples (patches of EXR renders: <c>input</c>
/// [C,H,W] named by <c>render.input</c>, <c>target</c> [T,H,W] named by <c>render.target</c>) are read here too.
/// </remarks>
internal static class SampleLoader
{
    /// <summary>
    /// Reads the samples at <paramref name="relativePaths"/>; with a <paramref name="cache"/> (a long-lived trainer's),
    /// takes the samples it holds from it and keeps the ones it read there, so the same bytes come out either way.
    /// </summary>
    public static SampleBatchSource Load(string datasetDirectory, DatasetDescriptor descriptor, IReadOnlyList<string> relativePaths, CancellationToken cancellationToken = default, SampleCache? cache = null)
    {
        var shape = descriptor.SampleShape;
        var per = checked(shape[0] * shape[1] * shape[2]);
        var targetShape = descriptor.TargetShape;
        var perTarget = checked(targetShape[0] * targetShape[1] * targetShape[2]);
        var n = relativePaths.Count;
        var pairs = descriptor.Kind is DatasetKinds.ImagePairs or DatasetKinds.RenderPairs;
        var inputs = new float[checked((long)n * per)];
        var targets = pairs ? new float[checked((long)n * perTarget)] : null;
        var labels = pairs ? null : new long[n];
        var classes = descriptor.Classes.Count;
        var expected = shape.Select(d => (long)d).ToArray();
        var expectedTarget = targetShape.Select(d => (long)d).ToArray();

        try
        {
            Parallel.For(
                0,
                n,
                new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) },
                i =>
                {
                    var path = Path.Combine(datasetDirectory, relativePaths[i]);
                    // A held sample was checked when it was read; only its shape against this descriptor is checked again.
                    var sample = cache is not null && cache.TryGet(path, out var held) && Fits(held, per, pairs ? perTarget : -1)
                        ? held
                        : Read(path, relativePaths[i], pairs, expected, expectedTarget, cache);
                    sample.Input.CopyTo(inputs.AsSpan(i * per, per));
                    if (pairs)
                    {
                        sample.Target!.CopyTo(targets.AsSpan(i * perTarget, perTarget));
                    }
                    else
                    {
                        if (sample.Label < 0 || sample.Label >= classes)
                        {
                            throw new DatasetException($"sample {relativePaths[i]}: label {sample.Label} is outside the {classes} classes of dataset.yaml");
                        }

                        labels![i] = sample.Label;
                    }
                });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0 && e.InnerExceptions[0] is DatasetException)
        {
            throw e.InnerExceptions[0];
        }

        return new SampleBatchSource { Count = n, SampleShape = shape, TargetShape = targetShape, Inputs = inputs, Targets = targets, Labels = labels };
    }

    private static bool Fits(CachedSample sample, int per, int perTarget) =>
        sample.Input.Length == per && (perTarget < 0 ? sample.Target is null : sample.Target?.Length == perTarget);

    /// <summary>Reads and checks one sample file; keeps it in <paramref name="cache"/> when there is one.</summary>
    private static CachedSample Read(string path, string relative, bool pairs, long[] expected, long[] expectedTarget, SampleCache? cache)
    {
        IReadOnlyList<NamedTensor> tensors;
        try
        {
            tensors = Safetensors.ReadFile(path).Tensors;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SafetensorsFormatException)
        {
            throw new DatasetException($"sample {relative}: {e.Message}");
        }

        var input = Find(tensors, DatasetKinds.InputTensor, TensorDType.F32, expected, relative).AsFloat32().ToArray();
        var sample = pairs
            ? new CachedSample(input, Find(tensors, DatasetKinds.TargetTensor, TensorDType.F32, expectedTarget, relative).AsFloat32().ToArray(), 0)
            : new CachedSample(input, null, BinaryPrimitives.ReadInt64LittleEndian(Find(tensors, DatasetKinds.LabelTensor, TensorDType.I64, [], relative).Data));
        cache?.Add(path, sample);
        return sample;
    }

    private static NamedTensor Find(IReadOnlyList<NamedTensor> tensors, string name, TensorDType dtype, long[] shape, string file)
    {
        NamedTensor? found = null;
        foreach (var t in tensors)
        {
            if (t.Name == name)
            {
                found = t;
                break;
            }
        }

        if (found is null)
        {
            throw new DatasetException($"sample {file}: no tensor '{name}' (has: {string.Join(", ", tensors.Select(t => t.Name))})");
        }

        if (found.DType != dtype || !found.Shape.AsSpan().SequenceEqual(shape))
        {
            throw new DatasetException(
                $"sample {file}: tensor '{name}' is {found.DType} [{string.Join(", ", found.Shape)}], expected {dtype} [{string.Join(", ", shape)}] (sample_shape in dataset.yaml; a render-pairs target has one channel per render.target)");
        }

        return found;
    }
}
