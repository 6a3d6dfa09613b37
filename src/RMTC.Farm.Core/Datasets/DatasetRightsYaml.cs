using System.Text.RegularExpressions;
using RMTC.Farm.Core.Rights;
using YamlDotNet.RepresentationModel;

namespace RMTC.Farm.Core.Datasets;

/// <summary>
/// Reads the <c>rights:</c> and <c>assets:</c> sections of <c>dataset.yaml</c> from the YAML node tree, so every
/// error carries the line it is about.
/// </summary>
internal static partial class DatasetRightsYaml
{
    private static readonly string[] AssertionKeys = ["use", "constraint_info"];
    private static readonly string[] AssetKeys = ["path", "sha256", "rights", "licence", "license", "owner", "consent"];

    /// <summary>
    /// A <c>rights:</c> mapping: label -> <c>allowed | notAllowed | constrained</c>, or
    /// <c>{ use: constrained, constraint_info: "..." }</c>. Labels are normalised to <c>cawg.*</c>.
    /// </summary>
    public static Dictionary<string, RightsAssertion> Rights(YamlNode? node, string source, string where)
    {
        var rights = new Dictionary<string, RightsAssertion>(StringComparer.Ordinal);
        if (node is null || IsNull(node))
        {
            return rights;
        }

        if (node is not YamlMappingNode map)
        {
            throw Error(source, node, $"`{where}` must be a mapping of label: value, e.g. `cawg.ai_training: allowed`");
        }

        var unknown = new List<string>();
        var spelledAs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in map.Children)
        {
            var label = Scalar(keyNode) ?? keyNode.ToString();
            if (!CawgAssertions.TryNormalise(label, out var cawg))
            {
                unknown.Add(label);
                continue;
            }

            var value = Assertion(valueNode, source, $"{where}.{label}");
            if (rights.TryGetValue(cawg, out var other))
            {
                // c2pa.x and cawg.x are one assertion: saying it twice is harmless, saying two things is ambiguous.
                if (other != value)
                {
                    throw Error(source, keyNode,
                        $"`{where}`: `{Echo.Of(spelledAs[cawg])}` ({other}) and `{Echo.Of(label)}` ({value}) are the same assertion and disagree; keep only `{cawg}`");
                }

                continue;
            }

            rights[cawg] = value;
            spelledAs[cawg] = label;
        }

        if (unknown.Count > 0)
        {
            throw Error(source, map,
                $"`{where}`: unknown label{(unknown.Count == 1 ? "" : "s")} {string.Join(", ", unknown.Select(u => $"`{Echo.Of(u)}`"))} " +
                $"(known: {string.Join(", ", CawgAssertions.All)}; the legacy c2pa.* spellings of these are accepted too)");
        }

        return rights;
    }

    /// <summary>The <c>assets:</c> list: per-asset overrides, each naming one asset by <c>path</c> or <c>sha256</c>.</summary>
    public static List<AssetRightsOverride> Assets(YamlNode? node, string source)
    {
        var list = new List<AssetRightsOverride>();
        if (node is null || IsNull(node))
        {
            return list;
        }

        if (node is not YamlSequenceNode seq)
        {
            throw Error(source, node, "`assets` must be a list of overrides, e.g. `- { path: samples/000012.safetensors, rights: { cawg.ai_training: notAllowed } }`");
        }

        for (int i = 0; i < seq.Children.Count; i++)
        {
            var where = $"assets[{i}]";
            if (seq.Children[i] is not YamlMappingNode entry)
            {
                throw Error(source, seq.Children[i], $"`{where}` must be a mapping with `path` or `sha256`, and `rights`");
            }

            foreach (var key in entry.Children.Keys)
            {
                var k = Scalar(key) ?? key.ToString();
                if (!AssetKeys.Contains(k, StringComparer.Ordinal))
                {
                    throw Error(source, key, $"`{where}`: unknown key `{Echo.Of(k)}` (known keys: {string.Join(", ", AssetKeys)})");
                }
            }

            var path = Text(entry, "path", source, where);
            var sha = Text(entry, "sha256", source, where);
            if ((path is null) == (sha is null))
            {
                throw Error(source, entry, $"`{where}` must name its asset with exactly one of `path` (e.g. samples/000012.safetensors) or `sha256`");
            }

            if (path is not null)
            {
                path = path.Replace('\\', '/');
                while (path.StartsWith("./", StringComparison.Ordinal))
                {
                    path = path[2..];
                }
            }

            if (sha is not null)
            {
                // Digests are often pasted with the algorithm prefix other tools print; the bare hex is what is stored.
                sha = sha.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? sha[7..] : sha;
                sha = sha.ToLowerInvariant();
                if (!HexDigest().IsMatch(sha))
                {
                    throw Error(source, entry, $"`{where}.sha256` must be 64 hex digits (the asset's sha256), got '{Echo.Of(sha)}'");
                }
            }

            var licence = Text(entry, "licence", source, where);
            var license = Text(entry, "license", source, where);
            if (licence is not null && license is not null && licence != license)
            {
                throw Error(source, entry, $"`{where}`: `licence` ({Echo.Of(licence)}) and `license` ({Echo.Of(license)}) disagree; keep one");
            }

            list.Add(new AssetRightsOverride
            {
                Path = path,
                Sha256 = sha,
                Licence = licence ?? license,
                Owner = Text(entry, "owner", source, where),
                Consent = Text(entry, "consent", source, where),
                Rights = Rights(Child(entry, "rights"), source, where + ".rights"),
            });
        }

        return list;
    }

    private static RightsAssertion Assertion(YamlNode node, string source, string where)
    {
        string? use;
        string? info = null;
        var hasInfo = false;
        if (node is YamlScalarNode scalar)
        {
            use = scalar.Value;
        }
        else if (node is YamlMappingNode map)
        {
            foreach (var key in map.Children.Keys)
            {
                var k = Scalar(key) ?? key.ToString();
                if (!AssertionKeys.Contains(k, StringComparer.Ordinal))
                {
                    throw Error(source, key, $"`{where}`: unknown key `{Echo.Of(k)}` (known keys: {string.Join(", ", AssertionKeys)})");
                }
            }

            use = Child(map, "use") is YamlScalarNode u ? u.Value : null;
            if (Child(map, "constraint_info") is { } infoNode)
            {
                hasInfo = true;
                info = (infoNode as YamlScalarNode)?.Value?.Trim();
            }
        }
        else
        {
            throw Error(source, node, $"`{where}` must be allowed, notAllowed, constrained, or {{ use: constrained, constraint_info: \"...\" }}");
        }

        var canonical = DatasetRights.All.FirstOrDefault(r => string.Equals(r, use?.Trim(), StringComparison.OrdinalIgnoreCase));
        if (canonical is null)
        {
            throw Error(source, node, $"`{where}` has value '{Echo.Of(use)}'; use one of: {string.Join(", ", DatasetRights.All)}");
        }

        if (canonical == DatasetRights.Constrained)
        {
            if (string.IsNullOrEmpty(info))
            {
                throw Error(source, node,
                    $"`{where}` is constrained but has no constraint_info: write it as `{{ use: constrained, constraint_info: \"what the constraint is\" }}`");
            }

            return RightsAssertion.Constrained(info);
        }

        if (hasInfo)
        {
            // A constraint on an allowed or refused use is meaningless; most likely `use` was meant to be constrained.
            throw Error(source, node, $"`{where}` has constraint_info but use {canonical}: constraint_info belongs with `use: constrained`");
        }

        return new RightsAssertion(canonical);
    }

    private static string? Text(YamlMappingNode map, string key, string source, string where)
    {
        var node = Child(map, key);
        if (node is null || IsNull(node))
        {
            return null;
        }

        if (node is not YamlScalarNode { Value: { } value } || value.Trim().Length == 0)
        {
            throw Error(source, node, $"`{where}.{key}` must be a non-empty text value");
        }

        return value.Trim();
    }

    private static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) ? node : null;

    private static string? Scalar(YamlNode node) => (node as YamlScalarNode)?.Value;

    /// <summary>An empty value (<c>rights:</c> with nothing after it) or an explicit <c>~</c>/<c>null</c>.</summary>
    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: not (YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted) } s
        && (s.Value is null or "" or "~" or "null" or "Null" or "NULL");

    private static DatasetException Error(string source, YamlNode node, string message) =>
        new($"{source} line {node.Start.Line}: {message}");

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex HexDigest();
}
