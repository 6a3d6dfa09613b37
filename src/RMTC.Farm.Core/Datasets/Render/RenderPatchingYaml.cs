using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace RMTC.Farm.Core.Datasets.Render;

/// <summary>Reads and writes the <c>render:</c> section of <c>dataset.yaml</c>, errors naming the line.</summary>
internal static partial class RenderPatchingYaml
{
    private static readonly string[] Keys = ["source", "input", "target", "patch", "stride", "split_by", "frames"];
    private static readonly string[] FrameKeys = ["name", "scene", "split", "samples", "patches", "noisy", "clean"];
    private static readonly string[] FileKeys = ["path", "sha256"];

    public static RenderPatching Parse(YamlNode node, string source)
    {
        var map = node as YamlMappingNode ?? throw Error(source, node, "`render` must be a mapping (source, input, target, patch, stride, split_by, frames)");
        CheckKeys(map, Keys, source, "render");
        var patching = new RenderPatching
        {
            Source = Text(map, "source", source) ?? "",
            Input = Names(map, "input", source),
            Target = Names(map, "target", source),
            Patch = Int(map, "patch", source),
            Stride = Int(map, "stride", source),
            SplitBy = Text(map, "split_by", source) ?? RenderSplits.None,
        };
        if (!RenderSplits.All.Contains(patching.SplitBy, StringComparer.Ordinal))
        {
            throw Error(source, map, $"`render.split_by` is '{Echo.Of(patching.SplitBy)}'; known: {string.Join(", ", RenderSplits.All)}");
        }

        if (patching.Stride > patching.Patch)
        {
            throw Error(source, map, $"`render.stride` ({patching.Stride}) is larger than `render.patch` ({patching.Patch}): pixels between patches would never be seen");
        }

        if (Child(map, "frames") is YamlSequenceNode frames)
        {
            foreach (var item in frames.Children)
            {
                var f = item as YamlMappingNode ?? throw Error(source, item, "each of `render.frames` is a mapping (name, scene, split, samples, patches, noisy, clean)");
                CheckKeys(f, FrameKeys, source, "render.frames[]");
                var frame = new RenderFrame
                {
                    Name = Text(f, "name", source) ?? throw Error(source, f, "a frame needs its `name`"),
                    Scene = Text(f, "scene", source) ?? "",
                    Split = Text(f, "split", source) ?? "",
                    Samples = Text(f, "samples", source) ?? throw Error(source, f, "a frame needs `samples` (the folder of its patches)"),
                    Patches = Int(f, "patches", source),
                    Noisy = File(f, "noisy", source),
                    Clean = File(f, "clean", source),
                };
                if (!frame.Samples.StartsWith(Dataset.SamplesFolder + "/", StringComparison.Ordinal) || frame.Samples.Contains("..", StringComparison.Ordinal))
                {
                    throw Error(source, f, $"frame {Echo.Of(frame.Name)}: `samples` must be a folder under {Dataset.SamplesFolder}/");
                }

                patching.Frames.Add(frame);
            }
        }
        else if (Child(map, "frames") is { } other && !IsNull(other))
        {
            throw Error(source, other, "`render.frames` must be a list");
        }

        return patching;
    }

    public static void Append(StringBuilder sb, RenderPatching p, Func<string, string> quote)
    {
        string List(IEnumerable<string> names) => "[" + string.Join(", ", names.Select(quote)) + "]";
        string Number(int n) => n.ToString(CultureInfo.InvariantCulture);
        string FileOf(RenderFile f) => $"{{ path: {quote(f.Path)}, sha256: {quote(f.Sha256)} }}";
        sb.Append("render:\n");
        sb.Append("  source: ").Append(quote(p.Source)).Append('\n');
        sb.Append("  input: ").Append(List(p.Input)).Append('\n');
        sb.Append("  target: ").Append(List(p.Target)).Append('\n');
        sb.Append("  patch: ").Append(Number(p.Patch)).Append('\n');
        sb.Append("  stride: ").Append(Number(p.Stride)).Append('\n');
        sb.Append("  split_by: ").Append(quote(p.SplitBy)).Append('\n');
        sb.Append("  frames:\n");
        foreach (var f in p.Frames)
        {
            sb.Append("    - { name: ").Append(quote(f.Name))
                .Append(", scene: ").Append(quote(f.Scene))
                .Append(", split: ").Append(quote(f.Split))
                .Append(", samples: ").Append(quote(f.Samples))
                .Append(", patches: ").Append(Number(f.Patches))
                .Append(",\n        noisy: ").Append(FileOf(f.Noisy))
                .Append(",\n        clean: ").Append(FileOf(f.Clean)).Append(" }\n");
        }
    }

    private static RenderFile File(YamlMappingNode map, string key, string source)
    {
        var node = Child(map, key) as YamlMappingNode ?? throw Error(source, map, $"a frame needs `{key}: {{ path: ..., sha256: ... }}`");
        CheckKeys(node, FileKeys, source, key);
        var sha = Text(node, "sha256", source) ?? "";
        if (!Sha256Pattern().IsMatch(sha))
        {
            throw Error(source, node, $"`{key}.sha256` must be 64 lower-case hex characters");
        }

        return new RenderFile { Path = Text(node, "path", source) ?? "", Sha256 = sha };
    }

    private static List<string> Names(YamlMappingNode map, string key, string source)
    {
        var node = Child(map, key) as YamlSequenceNode ?? throw Error(source, map, $"`render.{key}` must be a list of EXR channel names");
        var names = node.Children.Select(c => (c as YamlScalarNode)?.Value?.Trim() ?? "").ToList();
        if (names.Count == 0 || names.Any(n => n.Length == 0))
        {
            throw Error(source, node, $"`render.{key}` needs at least one channel name, none empty");
        }

        return names;
    }

    private static int Int(YamlMappingNode map, string key, string source)
    {
        var text = Text(map, key, source);
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw Error(source, map, $"`{key}` must be a positive whole number, got '{Echo.Of(text ?? "")}'");
    }

    private static string? Text(YamlMappingNode map, string key, string source)
    {
        var node = Child(map, key);
        if (node is null || IsNull(node))
        {
            return null;
        }

        return node is YamlScalarNode { Value: { } v } ? v.Trim() : throw Error(source, node, $"`{key}` must be a single value");
    }

    private static void CheckKeys(YamlMappingNode map, string[] known, string source, string where)
    {
        foreach (var key in map.Children.Keys)
        {
            var k = (key as YamlScalarNode)?.Value ?? "";
            if (!known.Contains(k, StringComparer.Ordinal))
            {
                throw Error(source, key, $"`{where}`: unknown key `{Echo.Of(k)}` (known: {string.Join(", ", known)})");
            }
        }
    }

    private static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) ? node : null;

    private static bool IsNull(YamlNode node) => node is YamlScalarNode { Value: null or "" or "~" or "null" };

    private static DatasetException Error(string source, YamlNode node, string message) =>
        new($"{source} line {node.Start.Line}: {message}");

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Pattern();
}
