using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Training.Tests;

public class RecipeTests
{
    [Fact]
    public void Catalog_lists_both_recipes_with_their_dataset_kinds()
    {
        Assert.Equal(["denoiser", "classifier", "convnet", "hdr-denoiser"], RecipeCatalog.Names);
        Assert.Equal("image-pairs", RecipeCatalog.DatasetKind("denoiser"));
        Assert.Equal("labelled-images", RecipeCatalog.DatasetKind("classifier"));
        Assert.False(string.IsNullOrWhiteSpace(RecipeCatalog.Describe("denoiser")));
        var e = Assert.Throws<ArgumentException>(() => RecipeCatalog.Describe("gan"));
        Assert.Contains("denoiser", e.Message);
    }

    [Theory]
    [InlineData("denoiser")]
    [InlineData("classifier")]
    public void Initial_weights_are_deterministic_per_seed(string recipe)
    {
        var a = RecipeCatalog.CreateInitialWeights(recipe, [3, 32, 32], 4, 42);
        var b = RecipeCatalog.CreateInitialWeights(recipe, [3, 32, 32], 4, 42);
        var c = RecipeCatalog.CreateInitialWeights(recipe, [3, 32, 32], 4, 43);
        Assert.Equal(a.Select(t => t.Name), b.Select(t => t.Name));
        Assert.Equal(Serialize(a), Serialize(b));
        Assert.NotEqual(Serialize(a), Serialize(c));
        Assert.All(a, t => Assert.Equal(TensorDType.F32, t.DType));
        Assert.Equal(a.Select(t => t.Name).Order(StringComparer.Ordinal), a.Select(t => t.Name));
    }

    [Fact]
    public void Denoiser_weights_are_named_by_layer()
    {
        var w = RecipeCatalog.CreateInitialWeights("denoiser", [3, 32, 32], 0, 1);
        Assert.Equal(["conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight", "conv3.bias", "conv3.weight"], w.Select(t => t.Name));
        Assert.Equal([16L, 3, 3, 3], w.Single(t => t.Name == "conv1.weight").Shape);
        Assert.Equal([3L, 16, 3, 3], w.Single(t => t.Name == "conv3.weight").Shape);
    }

    [Fact]
    public void Classifier_weights_follow_class_count()
    {
        var w = RecipeCatalog.CreateInitialWeights("classifier", [1, 16, 16], 5, 1);
        Assert.Equal(["conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight", "fc.bias", "fc.weight"], w.Select(t => t.Name));
        Assert.Equal([5L, 16], w.Single(t => t.Name == "fc.weight").Shape);
        Assert.Throws<ArgumentException>(() => RecipeCatalog.CreateInitialWeights("classifier", [1, 16, 16], 1, 1));
    }

    [Fact]
    public void Weights_round_trip_through_a_module()
    {
        var w = RecipeCatalog.CreateInitialWeights("classifier", [1, 16, 16], 4, 7);
        using var model = RecipeCatalog.Get("classifier").CreateModel([1, 16, 16], 4);
        TorchWeights.Load(model, w);
        Assert.Equal(Serialize(w), Serialize(TorchWeights.Export(model)));
    }

    [Fact]
    public void Loading_weights_with_a_wrong_name_is_refused()
    {
        var w = RecipeCatalog.CreateInitialWeights("denoiser", [3, 32, 32], 0, 7).ToList();
        var renamed = w.Select(t => t.Name == "conv2.weight" ? new NamedTensor("conv2.kernel", t.DType, t.Shape, t.Data) : t).ToList();
        using var model = RecipeCatalog.Get("denoiser").CreateModel([3, 32, 32], 0);
        var e = Assert.Throws<WeightsMismatchException>(() => TorchWeights.Load(model, renamed));
        Assert.Contains("missing conv2.weight", e.Message);
        Assert.Contains("unexpected conv2.kernel", e.Message);
    }

    [Fact]
    public void Loading_weights_with_a_wrong_shape_is_refused_and_nothing_is_copied()
    {
        var good = RecipeCatalog.CreateInitialWeights("denoiser", [3, 32, 32], 0, 7);
        var mixed = good
            .Select(t => t.Name == "conv1.weight" ? NamedTensor.FromFloats("conv1.weight", [16, 1, 3, 3], new float[16 * 9]) : t)
            .ToList();
        using var model = RecipeCatalog.Get("denoiser").CreateModel([3, 32, 32], 0);
        TorchWeights.Load(model, good);
        var e = Assert.Throws<WeightsMismatchException>(() => TorchWeights.Load(model, mixed));
        Assert.Contains("conv1.weight", e.Message);
        Assert.Contains("[16, 1, 3, 3]", e.Message);
        Assert.Equal(Serialize(good), Serialize(TorchWeights.Export(model)));
    }

    private static byte[] Serialize(IReadOnlyList<NamedTensor> tensors)
    {
        using var stream = new MemoryStream();
        Safetensors.Write(stream, tensors);
        return stream.ToArray();
    }
}
