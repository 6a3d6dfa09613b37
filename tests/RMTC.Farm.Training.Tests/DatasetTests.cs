using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Training.Tests;

public class DatasetTests
{
    private const string ValidYaml = """
        name: studio-patches
        version: 3
        licence: CC-BY-4.0
        owner: Studio
        consent: artists agreed
        rights:
          cawg.ai_training: allowed
          cawg.ai_generative_training: notAllowed
        kind: image-pairs
        sample_shape: [3, 8, 8]
        """;

    [Fact]
    public void Missing_yaml_names_the_fix()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<DatasetException>(() => Dataset.Open(dir.Path));
        Assert.Contains("no dataset.yaml in", e.Message);
        Assert.Contains("rmtc dataset synth", e.Message);
    }

    [Fact]
    public void Unknown_kind_is_refused()
    {
        var e = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor(ValidYaml.Replace("image-pairs", "point-clouds")));
        Assert.Contains("unknown kind 'point-clouds'", e.Message);
        Assert.Contains("labelled-images", e.Message);
    }

    [Fact]
    public void Unknown_key_is_refused_by_name()
    {
        var e = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor(ValidYaml + "\nsample_count: 12\n"));
        Assert.Contains("unknown key `sample_count`", e.Message);
    }

    [Theory]
    [InlineData("name: studio-patches", "`name`")]
    [InlineData("kind: image-pairs", "`kind`")]
    [InlineData("sample_shape: [3, 8, 8]", "`sample_shape`")]
    public void Missing_required_fields_are_named(string line, string expected)
    {
        var e = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor(ValidYaml.Replace(line, "")));
        Assert.Contains("missing " + expected, e.Message);
    }

    [Fact]
    public void Bad_values_are_refused()
    {
        Assert.Contains("three positive sizes", Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor(ValidYaml.Replace("[3, 8, 8]", "[3, 8]"))).Message);
        Assert.Contains("cawg.ai_training", Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor(ValidYaml.Replace("training: allowed", "training: maybe"))).Message);
        Assert.Contains("line", Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor(ValidYaml.Replace("[3, 8, 8]", "[3, x, 8]"))).Message);
        Assert.Contains("classes", Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor(ValidYaml.Replace("image-pairs", "labelled-images"))).Message);
        Assert.Contains("name", Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor(ValidYaml + "\nname: again\n")).Message);
        Assert.Contains("expected a mapping", Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor("- a\n- b\n")).Message);
        Assert.Contains("empty", Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor("")).Message);
    }

    [Fact]
    public void Descriptor_reads_all_fields_and_accepts_license_spelling()
    {
        var d = Dataset.ParseDescriptor(ValidYaml.Replace("licence:", "license:") + "\ndescription: renders\n");
        Assert.Equal("studio-patches", d.Name);
        Assert.Equal("3", d.Version);
        Assert.Equal("CC-BY-4.0", d.Licence);
        Assert.Equal("renders", d.Description);
        Assert.Equal("notAllowed", d.Rights["cawg.ai_generative_training"].Use);
        Assert.Equal([3, 8, 8], d.SampleShape);
    }

    [Fact]
    public void Empty_dataset_is_refused()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.Combine("dataset.yaml"), ValidYaml);
        Assert.Contains("samples/", Assert.Throws<DatasetException>(() => Dataset.Open(dir.Path)).Message);
        Directory.CreateDirectory(dir.Combine("samples"));
        Assert.Contains("no samples", Assert.Throws<DatasetException>(() => Dataset.Open(dir.Path)).Message);
    }

    [Fact]
    public void Synthesized_datasets_open_with_stable_digests()
    {
        using var a = new TempDirectory();
        using var b = new TempDirectory();
        using var c = new TempDirectory();
        Assert.Equal(40, DatasetSynthesizer.Synthesize("classifier", a.Path, 40, 5));
        DatasetSynthesizer.Synthesize("classifier", b.Path, 40, 5);
        DatasetSynthesizer.Synthesize("classifier", c.Path, 40, 6);

        var da = Dataset.Open(a.Path);
        var db = Dataset.Open(b.Path);
        var dc = Dataset.Open(c.Path);
        Assert.Equal(40, da.Samples.Count);
        Assert.Equal("samples/000000.safetensors", da.Samples[0].RelativePath);
        Assert.Equal("samples/000039.safetensors", da.Samples[^1].RelativePath);
        Assert.Equal(da.Digest, db.Digest);
        Assert.NotEqual(da.Digest, dc.Digest);
        Assert.Equal(64, da.Digest.Length);

        Assert.Equal("synth-classifier", da.Descriptor.Name);
        Assert.Equal("labelled-images", da.Descriptor.Kind);
        Assert.Equal("CC0-1.0", da.Descriptor.Licence);
        Assert.Equal([1, 16, 16], da.Descriptor.SampleShape);
        Assert.Equal(4, da.Descriptor.Classes.Count);
        Assert.Equal(CawgAssertions.All.Order(StringComparer.Ordinal), da.Descriptor.Rights.Keys.Order(StringComparer.Ordinal));
        Assert.All(da.Descriptor.Rights.Values, v => Assert.Equal(RightsAssertion.Allowed, v));
        Assert.Empty(da.Descriptor.Assets);

        var (tensors, _) = Safetensors.ReadFile(Path.Combine(a.Path, da.Samples[3].RelativePath));
        var label = tensors.Single(t => t.Name == "label");
        Assert.Equal(TensorDType.I64, label.DType);
        Assert.Empty(label.Shape);
        Assert.Equal([1L, 16, 16], tensors.Single(t => t.Name == "input").Shape);
    }

    [Fact]
    public void Synthesized_datasets_may_be_trained_on_by_their_recipe()
    {
        foreach (var recipe in RecipeCatalog.Names)
        {
            using var dir = new TempDirectory();
            DatasetSynthesizer.Synthesize(recipe, dir.Path, 4, 1);
            var decision = RightsPolicy.Evaluate(Dataset.Open(dir.Path), RecipeCatalog.RequiredAssertions(recipe), []);
            Assert.True(decision.Allowed, decision.Message);
        }
    }

    [Fact]
    public void Generative_recipes_need_the_generative_training_assertion()
    {
        Assert.Equal([CawgAssertions.AiTraining, CawgAssertions.AiGenerativeTraining], RecipeCatalog.RequiredAssertions("denoiser"));
        Assert.Equal([CawgAssertions.AiTraining], RecipeCatalog.RequiredAssertions("classifier"));
        Assert.Throws<ArgumentException>(() => RecipeCatalog.RequiredAssertions("painter"));

        // A dataset whose owner permits training but not generative training serves the classifier only.
        using var dir = new TempDirectory();
        DatasetSynthesizer.Synthesize("classifier", dir.Path, 4, 1);
        var yaml = File.ReadAllText(dir.Combine("dataset.yaml"));
        File.WriteAllText(dir.Combine("dataset.yaml"), yaml.Replace("\"cawg.ai_generative_training\": \"allowed\"", "\"cawg.ai_generative_training\": \"notAllowed\""));
        var dataset = Dataset.Open(dir.Path);
        Assert.True(RightsPolicy.Evaluate(dataset, RecipeCatalog.RequiredAssertions("classifier"), []).Allowed);
        var refused = RightsPolicy.Evaluate(dataset, RecipeCatalog.RequiredAssertions("denoiser"), []);
        Assert.Contains("all assets: cawg.ai_generative_training is notAllowed", refused.Message);
    }

    [Fact]
    public void Denoiser_synthesis_writes_noisy_and_clean_pairs()
    {
        using var dir = new TempDirectory();
        DatasetSynthesizer.Synthesize("denoiser", dir.Path, 8, 1);
        var ds = Dataset.Open(dir.Path);
        Assert.Equal("image-pairs", ds.Descriptor.Kind);
        var (tensors, _) = Safetensors.ReadFile(Path.Combine(dir.Path, ds.Samples[0].RelativePath));
        var input = tensors.Single(t => t.Name == "input").AsFloat32().ToArray();
        var target = tensors.Single(t => t.Name == "target").AsFloat32().ToArray();
        Assert.Equal(3 * 32 * 32, input.Length);
        var mse = input.Zip(target, (x, y) => (x - y) * (x - y)).Average();
        Assert.InRange(mse, 1e-4, 0.1);
        Assert.All(target, v => Assert.InRange(v, 0f, 1f));
    }

    [Fact]
    public void Synthesis_refuses_an_existing_dataset()
    {
        using var dir = new TempDirectory();
        DatasetSynthesizer.Synthesize("classifier", dir.Path, 4, 1);
        Assert.Throws<DatasetException>(() => DatasetSynthesizer.Synthesize("classifier", dir.Path, 4, 1));
    }

    [Fact]
    public void Samples_are_listed_in_ordinal_order_with_forward_slashes()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("samples", "b"));
        foreach (var name in new[] { "samples/b/1.safetensors", "samples/a.safetensors", "samples/B.safetensors", "samples/notes.txt" })
        {
            File.WriteAllText(dir.Combine(name.Split('/')), "x");
        }

        Assert.Equal(["samples/B.safetensors", "samples/a.safetensors", "samples/b/1.safetensors"], Dataset.ListSamples(dir.Path));
    }
}
