using RMTC.Farm.Core.Rights;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RMTC.Farm.Core.Datasets.Import;

/// <summary>
/// What an import cannot read from the source files: identity, licence, owner, consent, rights and class names.
/// Comes from a sidecar YAML file (the same keys as <c>dataset.yaml</c>) and/or command-line flags (flags win).
/// </summary>
public sealed record DatasetMetadata
{
    public string? Name { get; init; }
    public string? Version { get; init; }
    public string? Description { get; init; }
    public string? Licence { get; init; }
    public string? Owner { get; init; }
    public string? Consent { get; init; }
    public IReadOnlyDictionary<string, RightsAssertion> Rights { get; init; } = new Dictionary<string, RightsAssertion>(StringComparer.Ordinal);
    /// <summary>Class names, label i naming classes[i]; null to take them from the source (folder names, or "0".."n-1").</summary>
    public IReadOnlyList<string>? Classes { get; init; }

    private static readonly string[] SidecarKeys = ["name", "version", "description", "licence", "license", "owner", "consent", "rights", "classes"];

    /// <summary>This metadata with every value <paramref name="flags"/> sets replaced (rights label by label).</summary>
    public DatasetMetadata With(DatasetMetadata flags)
    {
        ArgumentNullException.ThrowIfNull(flags);
        return new DatasetMetadata
        {
            Name = flags.Name ?? Name,
            Version = flags.Version ?? Version,
            Description = flags.Description ?? Description,
            Licence = flags.Licence ?? Licence,
            Owner = flags.Owner ?? Owner,
            Consent = flags.Consent ?? Consent,
            Rights = Dataset.Combine(Rights, flags.Rights),
            Classes = flags.Classes ?? Classes,
        };
    }

    /// <summary>Reads a sidecar file. Throws <see cref="DatasetException"/> naming the line at fault.</summary>
    public static DatasetMetadata ReadSidecar(string path)
    {
        // Guarded as dataset.yaml is: a sidecar comes with data from outside.
        var stream = Dataset.LoadGuarded(Dataset.ReadBounded(path), path);

        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new DatasetException($"{path}: expected one YAML mapping with keys such as name, licence, owner, rights");
        }

        string? Text(string key)
        {
            if (!root.Children.TryGetValue(new YamlScalarNode(key), out var node))
            {
                return null;
            }

            return node is YamlScalarNode { Value: { } v } ? v.Trim() : throw new DatasetException($"{path} line {node.Start.Line}: `{key}` must be a single text value");
        }

        foreach (var key in root.Children.Keys)
        {
            var k = (key as YamlScalarNode)?.Value ?? "";
            if (!SidecarKeys.Contains(k, StringComparer.Ordinal))
            {
                throw new DatasetException($"{path} line {key.Start.Line}: unknown key `{k}` (a metadata file may hold: {string.Join(", ", SidecarKeys)}; the import sets kind, sample_shape and splits itself)");
            }
        }

        List<string>? classes = null;
        if (root.Children.TryGetValue(new YamlScalarNode("classes"), out var classNode))
        {
            classes = classNode is YamlSequenceNode seq && seq.Children.All(c => c is YamlScalarNode)
                ? seq.Children.Select(c => ((YamlScalarNode)c).Value?.Trim() ?? "").ToList()
                : throw new DatasetException($"{path} line {classNode.Start.Line}: `classes` must be a list of names, e.g. [cat, dog]");
        }

        root.Children.TryGetValue(new YamlScalarNode("rights"), out var rightsNode);
        return new DatasetMetadata
        {
            Name = Text("name"),
            Version = Text("version"),
            Description = Text("description"),
            Licence = Text("licence") ?? Text("license"),
            Owner = Text("owner"),
            Consent = Text("consent"),
            Rights = DatasetRightsYaml.Rights(rightsNode, path, "rights"),
            Classes = classes,
        };
    }

    /// <summary>A descriptor of this metadata for data of <paramref name="kind"/>; <paramref name="fallbackName"/> names it when nothing else does.</summary>
    internal DatasetDescriptor ToDescriptor(string fallbackName, string kind, int[] sampleShape, IReadOnlyList<string> classes, Dictionary<string, string> splits) => new()
    {
        Name = string.IsNullOrWhiteSpace(Name) ? fallbackName : Name,
        Version = string.IsNullOrWhiteSpace(Version) ? "1" : Version,
        Description = Description ?? "",
        Licence = Licence ?? "",
        Owner = Owner ?? "",
        Consent = Consent ?? "",
        Rights = new Dictionary<string, RightsAssertion>(Rights, StringComparer.Ordinal),
        Kind = kind,
        SampleShape = sampleShape,
        Classes = classes.ToList(),
        Splits = splits,
    };
}
