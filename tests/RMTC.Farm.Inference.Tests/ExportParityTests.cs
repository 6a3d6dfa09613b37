using Google.Protobuf;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Inference.Runtime;
using RMTC.Farm.Onnx;
using RMTC.Farm.Onnx.Export;
using RMTC.Farm.Onnx.Protos;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Inference.Tests;

/// <summary>Every trainable recipe exports, passes the reference checker, and runs in ONNX Runtime exactly like TorchSharp.</summary>
public class ExportParityTests
{
    private const double Tolerance = 1e-5;

    /// <summary>The HDR denoiser's exp(log(...)) round trip on radiance up to 50 costs a few float ulps more.</summary>
    private const double HdrTolerance = 1e-4;
    private static readonly int[] SampleShape = [3, 32, 32];
    private static readonly int[] RenderSampleShape = [9, 32, 32];
    private static readonly List<string> RenderChannels =
    [
        "ViewLayer.Combined.R", "ViewLayer.Combined.G", "ViewLayer.Combined.B",
        "ViewLayer.Denoising Albedo.R", "ViewLayer.Denoising Albedo.G", "ViewLayer.Denoising Albedo.B",
        "ViewLayer.Denoising Normal.X", "ViewLayer.Denoising Normal.Y", "ViewLayer.Denoising Normal.Z",
    ];
    private static readonly List<string> Classes = ["stripes-horizontal", "stripes-vertical", "checker", "blob"];

    /// <summary>Every recipe the catalog can train: a new recipe without a graph fails here.</summary>
    public static TheoryData<string> Recipes() => new(RecipeCatalog.Names);

    [Theory]
    [MemberData(nameof(Recipes))]
    public void OnnxRuntime_matches_TorchSharp_eval_on_random_inputs(string recipe)
    {
        var classes = RecipeCatalog.DatasetKind(recipe) == "labelled-images" ? Classes : [];
        var sampleShape = ShapeOf(recipe);
        var render = sampleShape == RenderSampleShape;
        var weights = WithoutZeroTensors(RecipeCatalog.CreateInitialWeights(recipe, sampleShape, classes.Count, seed: 7));
        var model = OnnxExporter.Build(weights, Provenance(recipe, classes));
        using var session = new OnnxModelSession(model.ToByteArray(), cpuOnly: true);
        using var torch = new ModelEvaluator(recipe, sampleShape, classes.Count, weights);

        // The training size, and (where the graph lets height and width vary) odd sizes that exercise floor pooling.
        long c = sampleShape[0];
        List<long[]> sizes = [[4, c, 32, 32], [1, c, 32, 32]];
        var input = model.Graph.Input[0].Type.TensorType.Shape.Dim;
        if (input[2].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam)
        {
            sizes.Add([2, c, 17, 23]);
            sizes.Add([3, c, 64, 48]);
        }

        var random = new Random(11);
        foreach (var shape in sizes)
        {
            var x = new float[shape.Aggregate(1L, (p, d) => p * d)];
            var plane = shape[2] * shape[3];
            for (var i = 0; i < x.Length; i++)
            {
                // Render models see HDR radiance (0..50, some negative samples) in the beauty and [-1, 1] features.
                x[i] = render && i / plane % c < 3 ? (random.NextSingle() * 50f) - 1f : (random.NextSingle() * 2f) - 0.5f;
            }

            var (ort, ortShape) = session.Run(x, shape);
            var (reference, referenceShape) = torch.Forward(x, shape);
            Assert.Equal(referenceShape, ortShape);
            var error = RelativeError(ort, reference);
            var limit = render ? HdrTolerance : Tolerance;
            Assert.True(error <= limit, $"{recipe} [{string.Join(", ", shape)}]: ONNX Runtime differs from TorchSharp by {error:E2} (relative, max-norm); limit {limit:E0}");
        }
    }

    [Theory]
    [MemberData(nameof(Recipes))]
    public void Exported_files_pass_the_reference_onnx_checker(string recipe)
    {
        using var dir = new TempDirectory();
        var classes = RecipeCatalog.DatasetKind(recipe) == "labelled-images" ? Classes : [];
        var path = dir.Combine(recipe + ".onnx");
        OnnxExporter.ExportFile(path, RecipeCatalog.CreateInitialWeights(recipe, ShapeOf(recipe), classes.Count, seed: 3), Provenance(recipe, classes));
        Assert.Null(OnnxChecker.Check(path));
    }

    [Theory]
    [MemberData(nameof(Recipes))]
    public void Provenance_round_trips_through_metadata_props_and_the_bytes_are_reproducible(string recipe)
    {
        var classes = RecipeCatalog.DatasetKind(recipe) == "labelled-images" ? Classes : [];
        var weights = RecipeCatalog.CreateInitialWeights(recipe, ShapeOf(recipe), classes.Count, seed: 5);
        var provenance = Provenance(recipe, classes);
        var bytes = OnnxExporter.Export(weights, provenance);
        Assert.Equal(bytes, OnnxExporter.Export(weights, provenance));

        var read = OnnxExporter.ReadProvenance(bytes);
        Assert.Equal(provenance.RunId, read.RunId);
        Assert.Equal(provenance.ModelDigest, read.ModelDigest);
        Assert.Equal(provenance.DatasetDigests, read.DatasetDigests);
        Assert.Equal(provenance.SampleShape, read.SampleShape);
        Assert.Equal(provenance.Classes, read.Classes);
        Assert.Equal(provenance.InputChannels, read.InputChannels);
        Assert.Equal(provenance.TargetChannels, read.TargetChannels);
        Assert.Equal(recipe, read.Recipe);
        Assert.Equal(DatasetRightsNotAllowed, read.LicenceClosure.Rights[CawgAssertions.AiInference].Use);
        Assert.Equal(["CC-BY-4.0"], read.LicenceClosure.Licences);

        var model = ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(OnnxFormat.Opset, model.OpsetImport.Single().Version);
        Assert.Equal("batch", model.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(weights.Select(w => w.Name).Order(StringComparer.Ordinal), model.Graph.Initializer.Select(i => i.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_render_model_names_its_channels_and_a_wrong_count_is_refused()
    {
        var weights = RecipeCatalog.CreateInitialWeights("hdr-denoiser", RenderSampleShape, 0, seed: 5);
        var provenance = Provenance("hdr-denoiser", []);
        var model = OnnxExporter.Build(weights, provenance);
        Assert.Equal(9, model.Graph.Input[0].Type.TensorType.Shape.Dim[1].DimValue);
        Assert.Equal("height", model.Graph.Input[0].Type.TensorType.Shape.Dim[2].DimParam);
        Assert.Contains(model.MetadataProps, p => p.Key == OnnxMetadataKeys.InputChannels && p.Value.Contains("Denoising Albedo.R", StringComparison.Ordinal));

        provenance.InputChannels = RenderChannels[..3];
        var e = Assert.Throws<RMTC.Farm.Onnx.Graph.OnnxExportException>(() => OnnxExporter.Build(weights, provenance));
        Assert.Contains("9 input channels", e.Message);

        // Models without channel names keep exactly the metadata they had.
        var plain = OnnxExporter.Build(RecipeCatalog.CreateInitialWeights("denoiser", SampleShape, 0, seed: 5), Provenance("denoiser", []));
        Assert.DoesNotContain(plain.MetadataProps, p => p.Key == OnnxMetadataKeys.InputChannels);
    }

    [Fact]
    public void A_file_without_rmtc_provenance_is_refused_with_the_reason()
    {
        var bytes = new ModelProto { IrVersion = 8 }.ToByteArray();
        var e = Assert.Throws<InvalidDataException>(() => OnnxExporter.ReadProvenance(bytes, "plain.onnx"));
        Assert.Contains("plain.onnx", e.Message);
        Assert.Contains(OnnxMetadataKeys.Schema, e.Message);
    }

    private const string DatasetRightsNotAllowed = "notAllowed";

    internal static OnnxProvenance Provenance(string recipe, List<string> classes) => new()
    {
        RunId = "test-run-abc123",
        ModelDigest = new string('a', 64),
        DatasetDigests = [new string('b', 64)],
        Datasets = ["patches 1"],
        LicenceClosure = new LicenceClosure
        {
            Licences = ["CC-BY-4.0"],
            Owners = ["Studio A"],
            Rights = new(StringComparer.Ordinal) { [CawgAssertions.AiInference] = new LicenceClosureRight { Use = DatasetRightsNotAllowed } },
        },
        Recipe = recipe,
        SampleShape = ShapeOf(recipe),
        Classes = classes,
        InputChannels = ShapeOf(recipe) == RenderSampleShape ? RenderChannels : [],
        TargetChannels = ShapeOf(recipe) == RenderSampleShape ? RenderChannels[..3] : [],
        RmtcVersion = "test",
    };

    /// <summary>The sample shape a recipe's dataset kind has in these tests: 9 named channels for render models.</summary>
    internal static int[] ShapeOf(string recipe) =>
        RecipeCatalog.Names.Contains(recipe) && RecipeCatalog.DatasetKind(recipe) == "render-pairs" ? RenderSampleShape : SampleShape;

    /// <summary>max |a − b| / max |b|: relative to the output's scale, so values near zero do not blow it up.</summary>
    /// <summary>
    /// Initial weights with every all-zero tensor given seeded values: hdr-denoiser starts with its last convolution at
    /// zero (an identity), which would leave most of its graph out of the comparison.
    /// </summary>
    internal static List<NamedTensor> WithoutZeroTensors(IReadOnlyList<NamedTensor> weights)
    {
        var random = new Random(3);
        return weights.Select(w => w.DType != TensorDType.F32 || w.AsFloat32().ToArray().Any(v => v != 0) ? w
            : NamedTensor.FromFloats(w.Name, w.Shape, Enumerable.Range(0, (int)w.ElementCount).Select(_ => (random.NextSingle() - 0.5f) * 0.1f).ToArray())).ToList();
    }

    internal static double RelativeError(float[] actual, float[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = 0, scale = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs((double)actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs((double)expected[i]));
        }

        return scale == 0 ? diff : diff / scale;
    }
}
