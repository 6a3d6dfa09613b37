using System.Buffers.Binary;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Tests.Rights;

/// <summary>Tiny labelled-images datasets on disk: dataset.yaml with the given rights and assets sections, N samples.</summary>
internal static class TestDatasets
{
    /// <summary>The descriptor with <paramref name="rights"/> and <paramref name="assets"/> as literal YAML blocks.</summary>
    public static string Yaml(string rights, string assets = "") => $"""
        name: rights-test
        version: 2
        licence: CC-BY-4.0
        owner: Studio A
        consent: staff renders, signed release
        kind: labelled-images
        sample_shape: [1, 2, 2]
        classes: [a, b]
        {rights}
        {assets}
        """;

    /// <summary>
    /// Writes a dataset and opens it. Sample i holds label i % <paramref name="distinct"/>, so samples with equal labels
    /// have equal content (and digests).
    /// </summary>
    public static Dataset Create(string rights, string assets = "", int samples = 3, int? distinct = null) =>
        Dataset.Open(Write(Yaml(rights, assets), samples, distinct));

    /// <summary>Writes dataset.yaml and the samples; returns the directory.</summary>
    public static string Write(string yaml, int samples = 3, int? distinct = null)
    {
        var dir = TestFiles.TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "samples"));
        for (int i = 0; i < samples; i++)
        {
            var label = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(label, i % (distinct ?? samples));
            Safetensors.WriteFile(
                Path.Combine(dir, "samples", $"{i:D6}.safetensors"),
                [
                    NamedTensor.FromFloats(DatasetKinds.InputTensor, [1, 2, 2], [0.1f, 0.2f, 0.3f, 0.4f]),
                    new NamedTensor(DatasetKinds.LabelTensor, TensorDType.I64, [], label),
                ]);
        }

        File.WriteAllText(Path.Combine(dir, "dataset.yaml"), yaml);
        return dir;
    }
}
