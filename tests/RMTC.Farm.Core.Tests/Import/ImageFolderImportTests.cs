using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Datasets.Import;
using RMTC.Farm.Core.Images;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Tests.Import;

public sealed class ImageFolderImportTests : IDisposable
{
    private readonly string _dir = TestFiles.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WritePng(string relative, int width, int height, int channels, byte value)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Png.Encode(new Image8(width, height, channels, Enumerable.Repeat(value, width * height * channels).ToArray())));
        return path;
    }

    [Fact]
    public void Class_folders_become_labelled_images_with_train_and_test_splits()
    {
        WritePng("src/train/cat/a.png", 4, 2, 3, 255);
        WritePng("src/train/cat/b.png", 4, 2, 3, 0);
        WritePng("src/train/dog/c.png", 4, 2, 3, 51);
        WritePng("src/test/dog/d.png", 4, 2, 3, 102);

        var counts = ImageFolderImport.Import(Path.Combine(_dir, "src"), Path.Combine(_dir, "out"), new DatasetMetadata { Licence = "CC0-1.0" });

        Assert.Equal(3, counts[DatasetSplits.Train]);
        Assert.Equal(1, counts[DatasetSplits.Test]);
        var dataset = Dataset.Open(Path.Combine(_dir, "out"));
        Assert.Equal(["cat", "dog"], dataset.Descriptor.Classes);
        Assert.Equal([3, 2, 4], dataset.Descriptor.SampleShape);
        var test = Safetensors.ReadFile(Path.Combine(_dir, "out/samples/test/000000.safetensors")).Tensors;
        Assert.Equal(0.4f, test.Single(t => t.Name == "input").AsFloat32()[0], 1e-6f);
        Assert.Equal(1L, BitConverter.ToInt64(test.Single(t => t.Name == "label").Data));
    }

    [Fact]
    public void Noisy_and_clean_folders_become_image_pairs()
    {
        WritePng("src/noisy/x.png", 3, 3, 1, 10);
        WritePng("src/clean/x.png", 3, 3, 1, 20);

        ImageFolderImport.Import(Path.Combine(_dir, "src"), Path.Combine(_dir, "out"), new DatasetMetadata());

        var dataset = Dataset.Open(Path.Combine(_dir, "out"));
        Assert.Equal(DatasetKinds.ImagePairs, dataset.Descriptor.Kind);
        var pair = Safetensors.ReadFile(Path.Combine(_dir, "out", dataset.Samples[0].RelativePath)).Tensors;
        Assert.Equal(20 / 255f, pair.Single(t => t.Name == "target").AsFloat32()[0]);
    }

    [Fact]
    public void A_pair_without_its_counterpart_is_named()
    {
        WritePng("src/noisy/x.png", 3, 3, 1, 10);
        WritePng("src/noisy/y.png", 3, 3, 1, 10);
        WritePng("src/clean/x.png", 3, 3, 1, 20);

        var e = Assert.Throws<DatasetException>(() => ImageFolderImport.Import(Path.Combine(_dir, "src"), Path.Combine(_dir, "out"), new DatasetMetadata()));
        Assert.Contains("y.png has no clean counterpart", e.Message);
    }

    [Fact]
    public void An_image_of_another_size_is_a_size_mismatch_naming_the_file()
    {
        WritePng("src/a/1.png", 4, 4, 1, 1);
        var odd = WritePng("src/b/2.png", 5, 4, 1, 1);

        var e = Assert.Throws<DatasetException>(() => ImageFolderImport.Import(Path.Combine(_dir, "src"), Path.Combine(_dir, "out"), new DatasetMetadata()));
        Assert.Contains("size mismatch", e.Message);
        Assert.Contains(odd, e.Message);
    }

    [Fact]
    public void A_damaged_png_is_named_with_the_fault()
    {
        WritePng("src/a/1.png", 4, 4, 1, 1);
        var bad = Path.Combine(_dir, "src/b/2.png");
        Directory.CreateDirectory(Path.GetDirectoryName(bad)!);
        File.WriteAllBytes(bad, [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3]);

        var e = Assert.Throws<DatasetException>(() => ImageFolderImport.Import(Path.Combine(_dir, "src"), Path.Combine(_dir, "out"), new DatasetMetadata()));
        Assert.Contains(bad, e.Message);
        Assert.Contains("not a PNG", e.Message);
    }

    [Fact]
    public void A_sidecar_gives_licence_owner_and_rights_and_flags_override_it()
    {
        var sidecar = Path.Combine(_dir, "meta.yaml");
        File.WriteAllText(sidecar, "name: plates\nlicence: LicenseRef-studio\nowner: Studio A\nrights:\n  cawg.ai_training: allowed\n");
        var meta = DatasetMetadata.ReadSidecar(sidecar).With(new DatasetMetadata { Owner = "Studio B" });
        Assert.Equal(("plates", "LicenseRef-studio", "Studio B"), (meta.Name, meta.Licence, meta.Owner));
        Assert.Equal("allowed", meta.Rights["cawg.ai_training"].Use);

        File.WriteAllText(sidecar, "kind: image-pairs\n");
        var e = Assert.Throws<DatasetException>(() => DatasetMetadata.ReadSidecar(sidecar));
        Assert.Contains("unknown key `kind`", e.Message);
    }
}
