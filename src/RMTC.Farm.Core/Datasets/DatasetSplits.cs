using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace RMTC.Farm.Core.Datasets;

/// <summary>
/// Named splits of a dataset (<c>splits:</c> in <c>dataset.yaml</c>): each a folder under <c>samples/</c>. Samples in
/// the <c>train</c> split or in no split are trained on; every other split (<c>test</c>, <c>validation</c>, ...) is
/// held out and never reaches a shard. Folders may not nest, so a sample belongs to at most one split.
/// </summary>
public static partial class DatasetSplits
{
    /// <summary>The split that is trained on.</summary>
    public const string Train = "train";

    /// <summary>The held-out split runs evaluate on by default.</summary>
    public const string Test = "test";

    /// <summary>The split <paramref name="relativePath"/> (e.g. <c>samples/test/000001.safetensors</c>) lies in, or null.</summary>
    public static string? SplitOf(DatasetDescriptor descriptor, string relativePath)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        foreach (var (name, folder) in descriptor.Splits)
        {
            if (relativePath.StartsWith(folder + "/", StringComparison.Ordinal))
            {
                return name;
            }
        }

        return null;
    }

    /// <summary>Whether <paramref name="relativePath"/> is held out from training (in a split other than <see cref="Train"/>).</summary>
    public static bool IsHeldOut(DatasetDescriptor descriptor, string relativePath) =>
        SplitOf(descriptor, relativePath) is { } split && split != Train;

    internal static Dictionary<string, string> Parse(YamlNode? node, string source)
    {
        var splits = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is null || node is YamlScalarNode { Value: null or "" or "~" or "null" })
        {
            return splits;
        }

        if (node is not YamlMappingNode map)
        {
            throw new DatasetException($"{source} line {node.Start.Line}: `splits` must be a mapping of split name: folder, e.g. `test: samples/test`");
        }

        foreach (var (keyNode, valueNode) in map.Children)
        {
            var name = (keyNode as YamlScalarNode)?.Value ?? "";
            var line = keyNode.Start.Line;
            if (!NamePattern().IsMatch(name))
            {
                throw new DatasetException($"{source} line {line}: split name '{Echo.Of(name)}' must be lower-case letters, digits, '-' or '_' (e.g. train, test)");
            }

            var folder = ((valueNode as YamlScalarNode)?.Value ?? "").Trim().TrimEnd('/');
            if (!folder.StartsWith(Dataset.SamplesFolder + "/", StringComparison.Ordinal) || folder.Contains("..", StringComparison.Ordinal) || folder.Contains('\\', StringComparison.Ordinal))
            {
                throw new DatasetException($"{source} line {line}: split {name}: folder '{Echo.Of(folder)}' must be a folder under {Dataset.SamplesFolder}/, e.g. {Dataset.SamplesFolder}/{name}");
            }

            foreach (var (other, otherFolder) in splits)
            {
                if (folder == otherFolder || folder.StartsWith(otherFolder + "/", StringComparison.Ordinal) || otherFolder.StartsWith(folder + "/", StringComparison.Ordinal))
                {
                    throw new DatasetException($"{source} line {line}: splits {other} ({otherFolder}) and {name} ({folder}) overlap; a sample may be in one split only");
                }
            }

            splits[name] = folder;
        }

        return splits;
    }

    [GeneratedRegex("^[a-z0-9_-]{1,40}$")]
    private static partial Regex NamePattern();
}
