using System.Buffers.Binary;
using System.IO.Compression;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Datasets.Import;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Tests.Import;

public sealed class IdxImportTests : IDisposable
{
    private readonly string _dir = TestFiles.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly DatasetMetadata Meta = new()
    {
        Name = "tiny-mnist",
        Licence = "MIT",
        Owner = "tests",
        Rights = new Dictionary<string, RightsAssertion> { [CawgAssertions.AiTraining] = RightsAssertion.Allowed },
    };

    /// <summary>IDX bytes: magic 0x0000 08 dims, big-endian sizes, then data.</summary>
    internal static byte[] Idx(int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = 0x08;
        bytes[3] = (byte)dims.Length;
        for (var i = 0; i < dims.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        }

        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    private string Source(int train = 6, int test = 3, bool gzip = false)
    {
        var src = Path.Combine(_dir, "src");
        Directory.CreateDirectory(src);
        void Write(string name, byte[] bytes)
        {
            if (gzip)
            {
                using var file = File.Create(Path.Combine(src, name + ".gz"));
                using var z = new GZipStream(file, CompressionLevel.Fastest);
                z.Write(bytes);
            }
            else
            {
                File.WriteAllBytes(Path.Combine(src, name), bytes);
            }
        }

        Write("train-images-idx3-ubyte", Idx([train, 4, 4], Enumerable.Range(0, train * 16).Select(i => (byte)(i % 256)).ToArray()));
        Write("train-labels-idx1-ubyte", Idx([train], Enumerable.Range(0, train).Select(i => (byte)(i % 3)).ToArray()));
        Write("t10k-images-idx3-ubyte", Idx([test, 4, 4], Enumerable.Range(0, test * 16).Select(i => (byte)(255 - i % 256)).ToArray()));
        Write("t10k-labels-idx1-ubyte", Idx([test], Enumerable.Range(0, test).Select(i => (byte)(i % 3)).ToArray()));
        return src;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Imports_train_and_test_splits_with_scaled_pixels_labels_and_rights(bool gzip)
    {
        var output = Path.Combine(_dir, "out");
        var counts = IdxImport.Import(Source(gzip: gzip), output, Meta);

        Assert.Equal(6, counts[DatasetSplits.Train]);
        Assert.Equal(3, counts[DatasetSplits.Test]);
        var dataset = Dataset.Open(output);
        Assert.Equal(DatasetKinds.LabelledImages, dataset.Descriptor.Kind);
        Assert.Equal([1, 4, 4], dataset.Descriptor.SampleShape);
        Assert.Equal(["0", "1", "2"], dataset.Descriptor.Classes);
        Assert.Equal("MIT", dataset.Descriptor.Licence);
        Assert.Equal(RightsAssertion.Allowed, dataset.Descriptor.Rights[CawgAssertions.AiTraining]);
        Assert.Equal("samples/test", dataset.Descriptor.Splits[DatasetSplits.Test]);
        Assert.Equal(9, dataset.Samples.Count);

        var sample = Safetensors.ReadFile(Path.Combine(output, "samples/train/000001.safetensors")).Tensors;
        var input = sample.Single(t => t.Name == "input");
        Assert.Equal([1L, 4, 4], input.Shape);
        Assert.Equal(16 / 255f, input.AsFloat32()[0]);
        Assert.Equal(1L, BinaryPrimitives.ReadInt64LittleEndian(sample.Single(t => t.Name == "label").Data));
    }

    [Fact]
    public void Wrong_magic_names_the_file_and_what_was_expected()
    {
        var src = Source();
        // The labels file where the images file should be: magic 0x00000801, not 0x00000803.
        File.Copy(Path.Combine(src, "train-labels-idx1-ubyte"), Path.Combine(src, "train-images-idx3-ubyte"), overwrite: true);

        var e = Assert.Throws<DatasetException>(() => IdxImport.Import(src, Path.Combine(_dir, "out"), Meta));
        Assert.Contains("train-images-idx3-ubyte", e.Message);
        Assert.Contains("wrong magic number 0x00000801", e.Message);
        Assert.Contains("0x00000803", e.Message);
    }

    [Fact]
    public void Truncated_data_says_how_many_bytes_are_missing()
    {
        var src = Source();
        var path = Path.Combine(src, "t10k-images-idx3-ubyte");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^5]);

        var e = Assert.Throws<DatasetException>(() => IdxImport.Import(src, Path.Combine(_dir, "out"), Meta));
        Assert.Contains("t10k-images-idx3-ubyte", e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("need 48 data bytes, the file has 43", e.Message);
    }

    [Fact]
    public void Truncated_header_and_damaged_gzip_are_clear_errors()
    {
        var e = Assert.Throws<DatasetException>(() => IdxFile.Parse([0, 0, 8, 3, 0, 0], "x.idx", 3));
        Assert.Contains("truncated header", e.Message);

        var src = Source(gzip: true);
        var gz = Path.Combine(src, "train-labels-idx1-ubyte.gz");
        var bytes = File.ReadAllBytes(gz);
        File.WriteAllBytes(gz, bytes[..(bytes.Length / 2)]);
        var damaged = Assert.Throws<DatasetException>(() => IdxImport.Import(src, Path.Combine(_dir, "out"), Meta));
        Assert.Contains("train-labels-idx1-ubyte.gz", damaged.Message);
    }

    [Fact]
    public void Image_and_label_counts_that_differ_are_a_size_mismatch()
    {
        var src = Source();
        File.WriteAllBytes(Path.Combine(src, "train-labels-idx1-ubyte"), Idx([5], [0, 1, 2, 0, 1]));

        var e = Assert.Throws<DatasetException>(() => IdxImport.Import(src, Path.Combine(_dir, "out"), Meta));
        Assert.Contains("size mismatch", e.Message);
        Assert.Contains("6 images", e.Message);
        Assert.Contains("5 labels", e.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")), "nothing is written when the source is wrong");
    }

    [Fact]
    public void Too_few_class_names_for_the_labels_is_refused()
    {
        var e = Assert.Throws<DatasetException>(() => IdxImport.Import(Source(), Path.Combine(_dir, "out"), Meta with { Classes = ["a", "b"] }));
        Assert.Contains("labels go up to 2 but 2 class names were given", e.Message);
    }

    [Fact]
    public void Importing_into_an_existing_dataset_is_refused()
    {
        var output = Path.Combine(_dir, "out");
        IdxImport.Import(Source(), output, Meta);
        var e = Assert.Throws<DatasetException>(() => IdxImport.Import(Source(), output, Meta));
        Assert.Contains("already holds a dataset", e.Message);
    }

    [Fact]
    public void Fashion_mnist_test_files_from_the_debian_package_import()
    {
        // The real data (Debian's dataset-fashion-mnist, installed by farm/scripts/test.sh); the 10,000 test images only, to stay quick.
        const string package = "/usr/share/datasets/fashion-mnist";
        Assert.True(Directory.Exists(package), $"{package} is missing: apt-get install dataset-fashion-mnist (farm/scripts/test.sh does)");
        var src = Path.Combine(_dir, "fashion");
        Directory.CreateDirectory(src);
        foreach (var name in new[] { "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
        {
            File.CreateSymbolicLink(Path.Combine(src, name), Path.Combine(package, name));
        }

        var output = Path.Combine(_dir, "fashion-out");
        var counts = IdxImport.Import(src, output, Meta);

        Assert.Equal(10_000, counts[DatasetSplits.Test]);
        var dataset = Dataset.Open(output);
        Assert.Equal([1, 28, 28], dataset.Descriptor.SampleShape);
        Assert.Equal(10, dataset.Descriptor.Classes.Count);
        Assert.All(dataset.Samples, s => Assert.StartsWith("samples/test/", s.RelativePath));
    }
}
