using System.Globalization;
using System.Text;
using RMTC.Farm.Core.Datasets.Render;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Core.Yaml;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RMTC.Farm.Core.Datasets;

/// <summary>One asset (sample file) of a dataset: its path relative to the dataset directory and its content digest.</summary>
public sealed record DatasetAsset(string RelativePath, string Sha256);

/// <summary>
/// A dataset on disk: a directory holding <c>dataset.yaml</c> and <c>samples/*.safetensors</c> (one sample per file).
/// </summary>
/// <remarks>
/// <c>dataset.yaml</c> uses snake_case keys: <c>name</c>, <c>version</c>, <c>description</c>, <c>licence</c> (or
/// <c>license</c>), <c>owner</c>, <c>consent</c>, <c>rights</c> (CAWG label -> allowed | notAllowed | constrained, or
/// <c>{ use: constrained, constraint_info: "..." }</c>), <c>assets</c> (per-asset overrides, see
/// <see cref="AssetRightsOverride"/>), <c>kind</c> (<see cref="DatasetKinds"/>), <c>sample_shape</c> [C, H, W] and
/// <c>classes</c>. Unknown keys are errors.
/// Sample files live under <c>samples/</c> (subfolders allowed); see <see cref="DatasetKinds"/> for the tensors they hold.
/// </remarks>
public sealed class Dataset
{
    /// <summary>File name of the descriptor inside a dataset directory.</summary>
    public const string DescriptorFileName = "dataset.yaml";

    /// <summary>Folder, relative to the dataset directory, holding the sample files.</summary>
    public const string SamplesFolder = "samples";

    /// <summary>Extension of sample files.</summary>
    public const string SampleExtension = ".safetensors";

    /// <summary>
    /// Largest <c>dataset.yaml</c> or import sidecar accepted, in bytes of text and in bytes expanded (every alias written
    /// out): a fixed limit, ample for per-asset rights of a large dataset and small enough that no file can make a
    /// reader allocate gigabytes.
    /// </summary>
    public const int MaxDescriptorBytes = 4 * 1024 * 1024;

    private const string DescriptorLimitName = "Dataset.MaxDescriptorBytes, a fixed limit of 4 MiB";

    /// <summary>Absolute path of the dataset directory.</summary>
    public required string Directory { get; init; }
    public required DatasetDescriptor Descriptor { get; init; }
    /// <summary>Sample files, sorted by ordinal relative path; a shard plan indexes into this list.</summary>
    public required IReadOnlyList<DatasetAsset> Samples { get; init; }
    /// <summary>sha256 over the sorted asset digests (each as 64 hex chars + '\n'): a location-independent identity.</summary>
    public required string Digest { get; init; }
    /// <summary>The <see cref="DatasetDescriptor.Assets"/> entry that applies to each overridden asset, by relative path.</summary>
    public IReadOnlyDictionary<string, AssetRightsOverride> AssetOverrides { get; init; } =
        new Dictionary<string, AssetRightsOverride>(StringComparer.Ordinal);

    /// <summary>The override that applies to <paramref name="asset"/>, or null when it takes the dataset's terms.</summary>
    public AssetRightsOverride? OverrideOf(DatasetAsset asset) =>
        AssetOverrides.TryGetValue(asset.RelativePath, out var o) ? o : null;

    /// <summary>The effective rights of <paramref name="asset"/>: the dataset's, overridden label by label by its override.</summary>
    public IReadOnlyDictionary<string, RightsAssertion> RightsOf(DatasetAsset asset) =>
        OverrideOf(asset) is { } o ? Combine(Descriptor.Rights, o.Rights) : Descriptor.Rights;

    /// <summary><paramref name="baseRights"/> with every label of <paramref name="overrides"/> replaced.</summary>
    public static Dictionary<string, RightsAssertion> Combine(
        IReadOnlyDictionary<string, RightsAssertion> baseRights, IReadOnlyDictionary<string, RightsAssertion> overrides)
    {
        var combined = new Dictionary<string, RightsAssertion>(StringComparer.Ordinal);
        foreach (var (label, value) in baseRights)
        {
            combined[label] = value;
        }

        foreach (var (label, value) in overrides)
        {
            combined[label] = value;
        }

        return combined;
    }

    private static readonly string[] KnownKeys =
    [
        "name", "version", "description", "licence", "license", "owner", "consent", "rights", "assets", "kind", "sample_shape", "classes", "splits", "render",
    ];

    /// <summary>
    /// Opens and validates a dataset directory, hashing every asset. Throws <see cref="DatasetException"/>.
    /// <paramref name="recipe"/>, when known, goes into the <c>rmtc dataset synth</c> a missing dataset's error suggests.
    /// </summary>
    public static Dataset Open(string directory, string? recipe = null)
    {
        var full = Path.GetFullPath(directory);
        var descriptor = ReadDescriptor(full, recipe);
        var samples = ListSamples(full);
        if (samples.Count == 0)
        {
            throw new DatasetException($"dataset {full} has no samples: put one {SampleExtension} file per sample under {SamplesFolder}/");
        }

        var digests = new string[samples.Count];
        try
        {
            Parallel.For(
                0,
                samples.Count,
                new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) },
                i => digests[i] = Sha256Digest.OfFile(Path.Combine(full, samples[i])));
        }
        catch (AggregateException e) when (e.InnerException is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"dataset {full}: cannot read a sample: {e.InnerException.Message}");
        }

        var assets = new DatasetAsset[samples.Count];
        var all = new StringBuilder(samples.Count * 65);
        for (int i = 0; i < samples.Count; i++)
        {
            assets[i] = new DatasetAsset(samples[i], digests[i]);
            all.Append(digests[i]).Append('\n');
        }

        return new Dataset
        {
            Directory = full,
            Descriptor = descriptor,
            Samples = assets,
            Digest = Sha256Digest.OfBytes(Encoding.ASCII.GetBytes(all.ToString())),
            AssetOverrides = MatchOverrides(descriptor, assets, full),
        };
    }

    /// <summary>
    /// Finds the asset(s) each override applies to. An override that matches nothing is refused: it is almost always a
    /// typo or a removed file, and silently ignoring it could train on data whose owner asked for different terms.
    /// </summary>
    private static Dictionary<string, AssetRightsOverride> MatchOverrides(DatasetDescriptor descriptor, DatasetAsset[] assets, string directory)
    {
        var byPath = new Dictionary<string, AssetRightsOverride>(StringComparer.Ordinal);
        if (descriptor.Assets.Count == 0)
        {
            return byPath;
        }

        var source = Path.Combine(directory, DescriptorFileName);
        var pathIndex = assets.Select(a => a.RelativePath).ToHashSet(StringComparer.Ordinal);
        var digestIndex = assets.ToLookup(a => a.Sha256, a => a.RelativePath, StringComparer.Ordinal);
        for (int i = 0; i < descriptor.Assets.Count; i++)
        {
            var o = descriptor.Assets[i];
            IEnumerable<string> matched;
            if (o.Path is not null)
            {
                if (!pathIndex.Contains(o.Path))
                {
                    throw new DatasetException(
                        $"{source}: assets[{i}]: no asset at path {o.Path} in {directory} (paths are relative to the dataset directory, e.g. {assets[0].RelativePath})");
                }

                matched = [o.Path];
            }
            else
            {
                matched = digestIndex[o.Sha256 ?? ""].ToList();
                if (!matched.Any())
                {
                    throw new DatasetException($"{source}: assets[{i}]: no asset in {directory} has sha256 {o.Sha256}");
                }
            }

            foreach (var path in matched)
            {
                if (byPath.TryGetValue(path, out var earlier))
                {
                    // Two entries for one asset would make its terms depend on list order; say so instead.
                    throw new DatasetException(
                        $"{source}: assets[{i}] ({o.Target}) and assets[{descriptor.Assets.IndexOf(earlier)}] ({earlier.Target}) both apply to {path}; merge them into one entry");
                }

                byPath[path] = o;
            }
        }

        return byPath;
    }

    /// <summary>
    /// Reads only <c>dataset.yaml</c>. Throws <see cref="DatasetException"/>. <paramref name="recipe"/>, when known, goes
    /// into the <c>rmtc dataset synth</c> a missing dataset's error suggests.
    /// </summary>
    public static DatasetDescriptor ReadDescriptor(string directory, string? recipe = null)
    {
        var full = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full))
        {
            throw new DatasetException($"dataset directory {full} does not exist: {HowToMake(full, recipe)}");
        }

        var path = Path.Combine(full, DescriptorFileName);
        if (!File.Exists(path))
        {
            throw new DatasetException($"no {DescriptorFileName} in {full}, so it is not a dataset: write one (see the README's Datasets section), or {HowToMake(full, recipe)}");
        }

        return ParseDescriptor(ReadBounded(path), path);
    }

    /// <summary>
    /// The text of a descriptor or sidecar file, refused unread when it is over <see cref="MaxDescriptorBytes"/>.
    /// Throws <see cref="DatasetException"/>.
    /// </summary>
    internal static string ReadBounded(string path)
    {
        try
        {
            var length = new FileInfo(path).Length;
            if (length > MaxDescriptorBytes)
            {
                throw new DatasetException($"{path} is {length} bytes, over the limit of {MaxDescriptorBytes} ({DescriptorLimitName}): it describes the data, it does not hold it; list per-asset rights in fewer, wider entries");
            }

            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"cannot read {path}: {e.Message}");
        }
    }

    /// <summary>Loads a descriptor or sidecar's YAML after <see cref="YamlGuard"/> passed it. Throws <see cref="DatasetException"/>.</summary>
    internal static YamlStream LoadGuarded(string text, string source)
    {
        const string expected = "A dataset.yaml is a YAML mapping of `key: value` lines such as `name: plates`, `kind: image-pairs`, `licence: CC-BY-4.0`.";
        string At(long line) => line > 0 ? string.Create(CultureInfo.InvariantCulture, $"{source} line {line}") : source;
        if (NotYaml.NotText(text, At, expected) is { } binary)
        {
            throw new DatasetException(binary);
        }

        try
        {
            if (YamlGuard.Check(text, MaxDescriptorBytes, DescriptorLimitName) is { } refused)
            {
                throw new DatasetException($"{source} line {refused.Line}: {refused.Message}");
            }

            return YamlGuard.Load(text);
        }
        catch (YamlException e)
        {
            throw new DatasetException(NotYaml.Message(text, At, e, expected));
        }
    }

    /// <summary>The commands that make a dataset at <paramref name="full"/>, for errors about a missing one.</summary>
    private static string HowToMake(string full, string? recipe) =>
        $"make a procedural one with `rmtc dataset synth --recipe {(string.IsNullOrEmpty(recipe) ? "RECIPE" : recipe)} --out {full}`, "
        + $"or import your files with `rmtc dataset import images SOURCE_DIR --out {full} --licence SPDX-ID` (PNG folders) "
        + $"or `rmtc dataset import idx SOURCE_DIR --out {full} --licence SPDX-ID` (MNIST-family IDX files) "
        + $"or `rmtc dataset import exr SOURCE_DIR --out {full} --licence SPDX-ID` (EXR render pairs)";

    /// <summary>
    /// Parses and validates the text of a <c>dataset.yaml</c>; <paramref name="source"/> names it in errors.
    /// Throws <see cref="DatasetException"/>.
    /// </summary>
    public static DatasetDescriptor ParseDescriptor(string text, string source = DescriptorFileName)
    {
        var root = CheckKeys(text, source);

        // Read from the node tree rather than deserialized, so a wrong type names its key and line (and no YAML tag can
        // pick a .NET type).
        var raw = new DescriptorYaml
        {
            Name = TextOf(root, "name", source),
            Version = TextOf(root, "version", source),
            Description = TextOf(root, "description", source),
            Licence = TextOf(root, "licence", source),
            License = TextOf(root, "license", source),
            Owner = TextOf(root, "owner", source),
            Consent = TextOf(root, "consent", source),
            Kind = TextOf(root, "kind", source),
            SampleShape = SampleShapeOf(root, source),
            Classes = ClassesOf(root, source),
        };

        string Required(string? value, string key, string hint)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                throw new DatasetException($"{source}: missing `{key}` ({hint})");
            }

            return value.Trim();
        }

        var name = Required(raw.Name, "name", "e.g. name: studio-denoise-patches");
        var kind = Required(raw.Kind, "kind", "one of: " + string.Join(", ", DatasetKinds.All));
        if (!DatasetKinds.All.Contains(kind, StringComparer.Ordinal))
        {
            throw new DatasetException($"{source}: unknown kind '{Echo.Of(kind)}' (known kinds: {string.Join(", ", DatasetKinds.All)})");
        }

        if (raw.SampleShape is null || raw.SampleShape.Count == 0)
        {
            throw new DatasetException($"{source}: missing `sample_shape` ([channels, height, width], e.g. [3, 32, 32])");
        }

        if (raw.SampleShape.Count != 3 || raw.SampleShape.Any(d => d <= 0))
        {
            throw new DatasetException(
                $"{source}: `sample_shape` must be three positive sizes [channels, height, width], got [{string.Join(", ", raw.SampleShape)}]");
        }

        var licence = raw.Licence?.Trim();
        var license = raw.License?.Trim();
        if (!string.IsNullOrEmpty(licence) && !string.IsNullOrEmpty(license) && licence != license)
        {
            throw new DatasetException($"{source}: `licence` ({Echo.Of(licence)}) and `license` ({Echo.Of(license)}) disagree; keep one");
        }

        var rights = DatasetRightsYaml.Rights(Child(root, "rights"), source, "rights");
        var splits = DatasetSplits.Parse(Child(root, "splits"), source);
        var assetOverrides = DatasetRightsYaml.Assets(Child(root, "assets"), source);

        var classes = (raw.Classes ?? []).Select(c => c?.Trim() ?? "").ToList();
        if (classes.Any(string.IsNullOrEmpty))
        {
            throw new DatasetException($"{source}: `classes` holds an empty name");
        }

        var duplicate = classes.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new DatasetException($"{source}: class '{Echo.Of(duplicate.Key)}' is listed twice in `classes`");
        }

        var render = Child(root, "render") is { } renderNode && !IsNull(renderNode) ? RenderPatchingYaml.Parse(renderNode, source) : null;
        if (kind == DatasetKinds.RenderPairs && render is null)
        {
            throw new DatasetException($"{source}: kind {kind} needs a `render:` section (channels, patching, source frames); `rmtc dataset import exr` writes it");
        }

        if (render is not null && kind != DatasetKinds.RenderPairs)
        {
            throw new DatasetException($"{source}: `render:` belongs to kind {DatasetKinds.RenderPairs}, not {kind}");
        }

        if (render is not null && render.Input.Count != raw.SampleShape[0])
        {
            throw new DatasetException($"{source}: `render.input` names {render.Input.Count} channels but `sample_shape` says {raw.SampleShape[0]}");
        }

        if (kind == DatasetKinds.LabelledImages && classes.Count < 2)
        {
            throw new DatasetException($"{source}: kind {kind} needs `classes` with at least two names (label i names classes[i])");
        }

        return new DatasetDescriptor
        {
            Name = name,
            Version = string.IsNullOrWhiteSpace(raw.Version) ? "1" : raw.Version.Trim(),
            Description = raw.Description?.Trim() ?? "",
            Licence = !string.IsNullOrEmpty(licence) ? licence : license ?? "",
            Owner = raw.Owner?.Trim() ?? "",
            Consent = raw.Consent?.Trim() ?? "",
            Rights = rights,
            Assets = assetOverrides,
            Kind = kind,
            SampleShape = raw.SampleShape.ToArray(),
            Classes = classes,
            Splits = splits,
            Render = render,
        };
    }

    /// <summary>Writes <paramref name="descriptor"/> as <c>dataset.yaml</c> into <paramref name="directory"/> (created if needed).</summary>
    public static void WriteDescriptor(string directory, DatasetDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var sb = new StringBuilder();
        sb.Append("# RMTC.Farm dataset descriptor: samples/*.safetensors, one sample per file.\n");
        sb.Append("name: ").Append(Quote(descriptor.Name)).Append('\n');
        sb.Append("version: ").Append(Quote(descriptor.Version)).Append('\n');
        if (descriptor.Description.Length > 0)
        {
            sb.Append("description: ").Append(Quote(descriptor.Description)).Append('\n');
        }

        sb.Append("licence: ").Append(Quote(descriptor.Licence)).Append('\n');
        sb.Append("owner: ").Append(Quote(descriptor.Owner)).Append('\n');
        sb.Append("consent: ").Append(Quote(descriptor.Consent)).Append('\n');
        AppendRights(sb, descriptor.Rights, "");
        if (descriptor.Assets.Count > 0)
        {
            sb.Append("assets:\n");
            foreach (var o in descriptor.Assets)
            {
                sb.Append(o.Path is not null ? "  - path: " + Quote(o.Path) : "  - sha256: " + Quote(o.Sha256 ?? "")).Append('\n');
                foreach (var (key, value) in new[] { ("licence", o.Licence), ("owner", o.Owner), ("consent", o.Consent) })
                {
                    if (value is not null)
                    {
                        sb.Append("    ").Append(key).Append(": ").Append(Quote(value)).Append('\n');
                    }
                }

                AppendRights(sb, o.Rights, "    ");
            }
        }

        sb.Append("kind: ").Append(Quote(descriptor.Kind)).Append('\n');
        sb.Append("sample_shape: [")
            .Append(string.Join(", ", descriptor.SampleShape.Select(d => d.ToString(CultureInfo.InvariantCulture))))
            .Append("]\n");
        sb.Append("classes: [").Append(string.Join(", ", descriptor.Classes.Select(Quote))).Append("]\n");
        if (descriptor.Splits.Count > 0)
        {
            sb.Append("splits:\n");
            foreach (var (split, folder) in descriptor.Splits.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                sb.Append("  ").Append(Quote(split)).Append(": ").Append(Quote(folder)).Append('\n');
            }
        }

        if (descriptor.Render is not null)
        {
            RenderPatchingYaml.Append(sb, descriptor.Render, Quote);
        }

        System.IO.Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, DescriptorFileName), sb.ToString(), new UTF8Encoding(false));
    }

    /// <summary>
    /// Lists sample files (sorted) without hashing them: paths relative to <paramref name="directory"/> with '/' separators,
    /// e.g. <c>samples/000042.safetensors</c>, sorted ordinally. Names starting with '.' are skipped. Empty when
    /// <c>samples/</c> holds none; throws <see cref="DatasetException"/> when there is no <c>samples/</c> folder.
    /// </summary>
    public static IReadOnlyList<string> ListSamples(string directory)
    {
        var full = Path.GetFullPath(directory);
        var samplesDir = Path.Combine(full, SamplesFolder);
        if (!System.IO.Directory.Exists(samplesDir))
        {
            throw new DatasetException($"no {SamplesFolder}/ folder in {full}: put one {SampleExtension} file per sample there");
        }

        var list = new List<string>();
        var options = new EnumerationOptions { RecurseSubdirectories = true, MatchType = MatchType.Simple, IgnoreInaccessible = false };
        foreach (var file in System.IO.Directory.EnumerateFiles(samplesDir, "*" + SampleExtension, options))
        {
            if (!file.EndsWith(SampleExtension, StringComparison.Ordinal) || Path.GetFileName(file).StartsWith('.'))
            {
                continue;
            }

            list.Add(Path.GetRelativePath(full, file).Replace('\\', '/'));
        }

        list.Sort(StringComparer.Ordinal);
        return list;
    }

    private static void AppendRights(StringBuilder sb, IReadOnlyDictionary<string, RightsAssertion> rights, string indent)
    {
        if (rights.Count == 0)
        {
            sb.Append(indent).Append("rights: {}\n");
            return;
        }

        sb.Append(indent).Append("rights:\n");
        foreach (var (label, value) in rights.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            sb.Append(indent).Append("  ").Append(Quote(label)).Append(": ");
            if (value.ConstraintInfo is null)
            {
                sb.Append(Quote(value.Use));
            }
            else
            {
                sb.Append("{ use: ").Append(Quote(value.Use)).Append(", constraint_info: ").Append(Quote(value.ConstraintInfo)).Append(" }");
            }

            sb.Append('\n');
        }
    }

    private static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) ? node : null;

    /// <summary>A plain or quoted text value; null when absent or written as ~/null/nothing.</summary>
    private static string? TextOf(YamlMappingNode root, string key, string source)
    {
        var node = Child(root, key);
        if (node is null || IsNull(node))
        {
            return null;
        }

        if (node is YamlScalarNode { Value: { } value })
        {
            return value;
        }

        throw new DatasetException($"{source} line {node.Start.Line}: `{key}` must be a text value, not a list or mapping");
    }

    private static List<int>? SampleShapeOf(YamlMappingNode root, string source)
    {
        var node = Child(root, "sample_shape");
        if (node is null || IsNull(node))
        {
            return null;
        }

        var hint = "`sample_shape` must be a list of three positive whole numbers [channels, height, width], e.g. [3, 32, 32]";
        if (node is not YamlSequenceNode seq)
        {
            throw new DatasetException($"{source} line {node.Start.Line}: {hint}");
        }

        var shape = new List<int>(seq.Children.Count);
        foreach (var item in seq.Children)
        {
            if (item is not YamlScalarNode { Value: { } text } || !int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var size))
            {
                throw new DatasetException($"{source} line {item.Start.Line}: {hint} (got '{Shorten(item)}')");
            }

            shape.Add(size);
        }

        return shape;
    }

    private static List<string?>? ClassesOf(YamlMappingNode root, string source)
    {
        var node = Child(root, "classes");
        if (node is null || IsNull(node))
        {
            return null;
        }

        var hint = "`classes` must be a list of class names, e.g. [cat, dog]";
        if (node is not YamlSequenceNode seq)
        {
            throw new DatasetException($"{source} line {node.Start.Line}: {hint}");
        }

        var classes = new List<string?>(seq.Children.Count);
        foreach (var item in seq.Children)
        {
            if (item is not YamlScalarNode scalar)
            {
                throw new DatasetException($"{source} line {item.Start.Line}: {hint}; a class name is text, not a list or mapping");
            }

            classes.Add(IsNull(scalar) ? null : scalar.Value);
        }

        return classes;
    }

    private static string Shorten(YamlNode node)
    {
        var text = (node as YamlScalarNode)?.Value ?? (node is YamlSequenceNode ? "a list" : "a mapping");
        return text.Length <= 40 ? text : text[..37] + "...";
    }

    /// <summary>As YAML reads it: nothing, ~ or null, unquoted.</summary>
    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: not (ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted) } s
        && (s.Value is null or "" or "~" or "null" or "Null" or "NULL");

    private static YamlMappingNode CheckKeys(string text, string source)
    {
        var stream = LoadGuarded(text, source);

        if (stream.Documents.Count == 0)
        {
            throw new DatasetException($"{source} is empty: it needs at least `name`, `kind` and `sample_shape`");
        }

        if (stream.Documents.Count > 1)
        {
            throw new DatasetException($"{source} holds {stream.Documents.Count} YAML documents; keep one");
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new DatasetException($"{source}: expected a mapping of keys (name, kind, sample_shape, ...) at the top level");
        }

        foreach (var key in root.Children.Keys)
        {
            var k = (key as YamlScalarNode)?.Value ?? key.ToString();
            if (!KnownKeys.Contains(k, StringComparer.Ordinal))
            {
                throw new DatasetException(
                    $"{source} line {key.Start.Line}: unknown key `{Echo.Of(k)}` (known keys: {string.Join(", ", KnownKeys)})");
            }
        }

        return root;
    }

    private static string Quote(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (char.IsControl(c))
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        return sb.Append('"').ToString();
    }

    /// <summary>The YAML as written (both licence spellings, nothing validated yet).</summary>
    private sealed class DescriptorYaml
    {
        public string? Name { get; set; }
        public string? Version { get; set; }
        public string? Description { get; set; }
        public string? Licence { get; set; }
        public string? License { get; set; }
        public string? Owner { get; set; }
        public string? Consent { get; set; }
        public string? Kind { get; set; }
        public List<int>? SampleShape { get; set; }
        public List<string?>? Classes { get; set; }
    }
}
