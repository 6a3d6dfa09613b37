using System.Text.Json;
using Google.Protobuf;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Onnx.Graph;
using RMTC.Farm.Onnx.Protos;
using RMTC.Farm.Onnx.Recipes;

namespace RMTC.Farm.Onnx.Export;

/// <summary>
/// Writes a recipe's model as an ONNX file: its graph (opset <see cref="OnnxFormat.Opset"/>), the weights as
/// initializers, and the provenance in <c>metadata_props</c>. The bytes depend only on the arguments (no time stamps),
/// so exporting the same model twice gives the same digest.
/// </summary>
public static class OnnxExporter
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The ONNX model of <paramref name="weights"/> for <paramref name="provenance"/>'s recipe and sample shape.</summary>
    public static ModelProto Build(IReadOnlyList<NamedTensor> weights, OnnxProvenance provenance) =>
        Build(RecipeGraphs.Get(provenance?.Recipe ?? throw new ArgumentNullException(nameof(provenance))), weights, provenance);

    /// <summary>The ONNX model of <paramref name="weights"/> described by <paramref name="recipeGraph"/> (a recipe not yet listed in <see cref="RecipeGraphs"/>).</summary>
    public static ModelProto Build(IRecipeGraph recipeGraph, IReadOnlyList<NamedTensor> weights, OnnxProvenance provenance)
    {
        ArgumentNullException.ThrowIfNull(recipeGraph);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(provenance);
        if (provenance.SampleShape is not { Length: 3 } shape || shape.Any(d => d <= 0))
        {
            throw new OnnxExportException($"sample shape must be [channels, height, width] with positive sizes, got [{string.Join(", ", provenance.SampleShape ?? [])}]");
        }

        if (provenance.InputChannels.Count > 0 && provenance.InputChannels.Count != shape[0])
        {
            throw new OnnxExportException($"the model takes {shape[0]} input channels but {provenance.InputChannels.Count} channel names were given ({string.Join(", ", provenance.InputChannels)})");
        }

        var builder = new OnnxGraphBuilder(provenance.Recipe, weights);
        recipeGraph.Describe(builder, shape, provenance.Classes.Count);
        var graph = builder.Build();
        graph.DocString = $"RMTC.Farm recipe '{provenance.Recipe}' trained by run {provenance.RunId}";

        var model = new ModelProto
        {
            IrVersion = OnnxFormat.IrVersion,
            ProducerName = OnnxFormat.ProducerName,
            ProducerVersion = provenance.RmtcVersion,
            Domain = OnnxFormat.Domain,
            ModelVersion = 1,
            DocString = $"Exported from safetensors sha256:{provenance.ModelDigest}; provenance in metadata_props (rmtc.*).",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OnnxFormat.Opset });
        foreach (var (key, value) in Metadata(provenance))
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        return model;
    }

    /// <summary>The file's bytes (see <see cref="Build(IReadOnlyList{NamedTensor}, OnnxProvenance)"/>).</summary>
    public static byte[] Export(IReadOnlyList<NamedTensor> weights, OnnxProvenance provenance) => Build(weights, provenance).ToByteArray();

    /// <summary>Writes the file to <paramref name="path"/> and returns its sha256.</summary>
    public static string ExportFile(string path, IReadOnlyList<NamedTensor> weights, OnnxProvenance provenance)
    {
        var bytes = Export(weights, provenance);
        File.WriteAllBytes(path, bytes);
        return Sha256Digest.OfBytes(bytes);
    }

    /// <summary>The provenance entries, in a fixed order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Metadata(OnnxProvenance p)
    {
        List<KeyValuePair<string, string>> entries =
        [
            new(OnnxMetadataKeys.Schema, OnnxMetadataKeys.SchemaValue),
            new(OnnxMetadataKeys.RunId, p.RunId),
            new(OnnxMetadataKeys.ModelDigest, p.ModelDigest),
            new(OnnxMetadataKeys.ModelFormat, "safetensors"),
            new(OnnxMetadataKeys.DatasetDigests, JsonSerializer.Serialize(p.DatasetDigests, Json)),
            new(OnnxMetadataKeys.Datasets, JsonSerializer.Serialize(p.Datasets, Json)),
            new(OnnxMetadataKeys.LicenceClosure, JsonSerializer.Serialize(p.LicenceClosure, Json)),
            new(OnnxMetadataKeys.Recipe, p.Recipe),
            new(OnnxMetadataKeys.SampleShape, JsonSerializer.Serialize(p.SampleShape, Json)),
            new(OnnxMetadataKeys.Classes, JsonSerializer.Serialize(p.Classes, Json)),
            new(OnnxMetadataKeys.RmtcVersion, p.RmtcVersion),
        ];

        // Only render models name channels; other exports keep the entries (and bytes) they always had.
        if (p.InputChannels.Count > 0 || p.TargetChannels.Count > 0)
        {
            entries.Add(new(OnnxMetadataKeys.InputChannels, JsonSerializer.Serialize(p.InputChannels, Json)));
            entries.Add(new(OnnxMetadataKeys.TargetChannels, JsonSerializer.Serialize(p.TargetChannels, Json)));
        }

        return entries;
    }

    /// <summary>
    /// Reads the provenance of an exported file; throws <see cref="InvalidDataException"/> naming what is missing when the
    /// file is not an ONNX model or was not written by rmtc.
    /// </summary>
    public static OnnxProvenance ReadProvenance(byte[] onnx, string source = "model")
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnx);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{source} is not an ONNX model ({e.Message})", e);
        }

        var props = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in model.MetadataProps)
        {
            props[entry.Key] = entry.Value;
        }

        if (props.GetValueOrDefault(OnnxMetadataKeys.Schema) != OnnxMetadataKeys.SchemaValue)
        {
            throw new InvalidDataException($"{source} carries no rmtc provenance (metadata_props has no {OnnxMetadataKeys.Schema} = {OnnxMetadataKeys.SchemaValue}); export models with `rmtc export`");
        }

        string Required(string key) => props.TryGetValue(key, out var v) && v.Length > 0
            ? v
            : throw new InvalidDataException($"{source}: metadata_props lacks '{key}'");
        T Parse<T>(string key)
        {
            try
            {
                return JsonSerializer.Deserialize<T>(Required(key), Json) ?? throw new InvalidDataException($"{source}: metadata_props '{key}' is null");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{source}: metadata_props '{key}' is not valid JSON ({e.Message})", e);
            }
        }

        return new OnnxProvenance
        {
            RunId = Required(OnnxMetadataKeys.RunId),
            ModelDigest = Required(OnnxMetadataKeys.ModelDigest),
            DatasetDigests = Parse<List<string>>(OnnxMetadataKeys.DatasetDigests),
            Datasets = Parse<List<string>>(OnnxMetadataKeys.Datasets),
            LicenceClosure = Parse<LicenceClosure>(OnnxMetadataKeys.LicenceClosure),
            Recipe = Required(OnnxMetadataKeys.Recipe),
            SampleShape = Parse<int[]>(OnnxMetadataKeys.SampleShape),
            Classes = Parse<List<string>>(OnnxMetadataKeys.Classes),
            RmtcVersion = props.GetValueOrDefault(OnnxMetadataKeys.RmtcVersion, ""),
            InputChannels = props.ContainsKey(OnnxMetadataKeys.InputChannels) ? Parse<List<string>>(OnnxMetadataKeys.InputChannels) : [],
            TargetChannels = props.ContainsKey(OnnxMetadataKeys.TargetChannels) ? Parse<List<string>>(OnnxMetadataKeys.TargetChannels) : [],
        };
    }
}
