using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using RMTC.Farm.Core.Jobs;

namespace RMTC.Farm.Core.OpenCue;

/// <summary>
/// Reads OpenCue job specs (CJSL, DTD versions 1.0 to 1.15) the way Cuebot does: element order as the DTD gives it,
/// names conformed, units converted, root refused. The DTD is never fetched (its system id only names the version).
/// Every problem is reported at once, each with its line and element, as <see cref="JobSpecException"/>.
/// </summary>
public static partial class CjslParser
{
    /// <summary>Newest CJSL version understood.</summary>
    public static readonly Version NewestVersion = new(1, 15);

    /// <summary>The public id pyoutline writes has two spaces; the DTD's own spelling has one. Both are accepted.</summary>
    public static readonly IReadOnlyList<string> PublicIds = ["SPI Cue Specification Language", "SPI Cue  Specification Language"];

    /// <summary>True when <paramref name="text"/> looks like XML rather than YAML (its first non-blank character is '&lt;').</summary>
    public static bool LooksLikeCjsl(string text)
    {
        foreach (var c in text)
        {
            if (c is '\uFEFF' || char.IsWhiteSpace(c))
            {
                continue;
            }

            return c == '<';
        }

        return false;
    }

    /// <summary>Parses and validates a spec. Throws <see cref="JobSpecException"/> listing every problem found.</summary>
    public static CjslSpec Parse(string xml, string sourceName)
    {
        XDocument doc;
        try
        {
            var settings = new XmlReaderSettings
            {
                // The DOCTYPE is read for its ids, but nothing is ever fetched: no resolver, no external DTD.
                DtdProcessing = DtdProcessing.Parse,
                XmlResolver = null,
                MaxCharactersFromEntities = 1024,
                MaxCharactersInDocument = 64L * 1024 * 1024,
                IgnoreComments = true,
            };
            if (TooDeep(xml, settings) is { } deep)
            {
                throw new JobSpecException([$"{sourceName}:{deep.Line}: <{deep.Element}> is nested more than {MaxDepth} elements deep: a spec needs 6 (spec, job, layers, layer, env, key); remove the extra nesting"]);
            }

            using var reader = XmlReader.Create(new StringReader(xml), settings);
            doc = XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException e)
        {
            throw new JobSpecException([$"{sourceName}:{e.LineNumber}: not well-formed XML: {e.Message}"]);
        }

        var p = new Problems(sourceName);
        var version = ReadDocType(doc, p);
        var root = doc.Root!;
        if (root.Name.LocalName != "spec")
        {
            p.Add(root, $"the root element must be <spec>, not <{root.Name.LocalName}>");
            throw p.Exception();
        }

        CheckOrder(root, SpecModel, p, version);
        var show = Text(root, "show");
        var shotRaw = Text(root, "shot");
        var user = Text(root, "user");
        var uidText = Text(root, "uid");
        int? uid = null;
        if (uidText is not null)
        {
            if (int.TryParse(uidText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var u) && u >= 0)
            {
                uid = u;
            }
            else
            {
                p.Add(root.Element("uid")!, $"<uid> must be a user id, a whole number (got '{Echo.Of(uidText)}')");
            }
        }

        if (show is { Length: > 0 } && !NamePattern().IsMatch(show))
        {
            p.Add(root.Element("show")!, $"the show name '{Echo.Of(show)}' is not in the proper format: show names are at least 3 letters, digits, '_' or '.'");
        }

        var shot = shotRaw is null ? null : ConformName("shot", shotRaw, root.Element("shot")!, p);
        if (show is { Length: 0 } || user is { Length: 0 })
        {
            p.Add(root, "<show> and <user> must not be empty");
        }

        // As Cuebot: a job never runs as root, whether the spec says so by name or by uid.
        if (user == "root" || uid == 0)
        {
            p.Add(root.Element(user == "root" ? "user" : "uid")!, "Cannot launch jobs as root.");
        }

        var jobs = new List<CjslJob>();
        var jobNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var jobElement in root.Elements("job"))
        {
            if (ReadJob(jobElement, show ?? "", shot ?? "", user ?? "", version, p) is { } job)
            {
                if (!jobNames.Add(job.Name))
                {
                    p.Add(jobElement, $"job '{Echo.Of(job.Name)}' is defined twice in this spec: give each <job> its own name");
                }

                jobs.Add(job);
            }
        }

        if (!root.Elements("job").Any())
        {
            p.Add(root, "the spec has no <job>: add <job name=\"...\"> with its <layers>");
        }

        var depends = new List<CjslDepend>();
        foreach (var dependsElement in root.Elements("depends"))
        {
            CheckOrder(dependsElement, DependsModel, p, version);
            foreach (var d in dependsElement.Elements("depend"))
            {
                if (ReadDepend(d, version, p) is { } depend)
                {
                    depends.Add(depend);
                }
            }
        }

        if (p.Count > 0)
        {
            throw p.Exception();
        }

        return new CjslSpec
        {
            Version = version!,
            Facility = Text(root, "facility")?.ToLowerInvariant(),
            Dept = Text(root, "dept"),
            Show = show!,
            Shot = shot!,
            User = user!,
            Email = Text(root, "email"),
            Uid = uid,
            Jobs = jobs,
            Depends = depends,
        };
    }

    /// <summary>Deepest element nesting accepted; deeper documents take time quadratic in their depth to load.</summary>
    public const int MaxDepth = 64;

    /// <summary>Where the document first nests deeper than <see cref="MaxDepth"/>, read as a stream (nothing kept), or null.</summary>
    private static (int Line, string Element)? TooDeep(string xml, XmlReaderSettings settings)
    {
        using var reader = XmlReader.Create(new StringReader(xml), settings);
        while (reader.Read())
        {
            if (reader.NodeType == XmlNodeType.Element && reader.Depth >= MaxDepth)
            {
                return (((IXmlLineInfo)reader).LineNumber, reader.LocalName);
            }
        }

        return null;
    }

    /// <summary>Cuebot's job name: <c>show-shot-user_suffix</c>, lower case, the suffix's '-' turned into '_'.</summary>
    public static string ConformJobName(string show, string shot, string user, string name, out string? error)
    {
        error = null;
        var prefix = $"{show}-{shot}-{user}_";
        var suffix = name;
        if (suffix.StartsWith(prefix, StringComparison.Ordinal))
        {
            suffix = suffix[(prefix.Length - 1)..];
        }

        suffix = RepeatedUnderscores().Replace(suffix.ToLowerInvariant(), "_").Replace('-', '_');
        if (!NamePattern().IsMatch(suffix))
        {
            error = $"the job name suffix '{Echo.Of(suffix)}' must be at least 3 letters, digits, periods or underscores";
        }

        return $"{prefix.TrimEnd('_')}_{suffix.TrimStart('_')}".ToLowerInvariant();
    }

    private static Version? ReadDocType(XDocument doc, Problems p)
    {
        var type = doc.DocumentType;
        if (type is null)
        {
            p.Add(null, "no DOCTYPE: start the spec with <!DOCTYPE spec PUBLIC \"SPI Cue Specification Language\" \"http://localhost:8080/spcue/dtd/cjsl-1.15.dtd\"> (as pyoutline and cuesubmit write it)");
            throw p.Exception();
        }

        if (type.Name != "spec" || type.PublicId is null || !PublicIds.Contains(type.PublicId))
        {
            p.Add(null, $"the DOCTYPE must be spec PUBLIC \"SPI Cue Specification Language\" (got {Echo.Of(type.Name)} PUBLIC \"{Echo.Of(type.PublicId)}\")");
        }

        var m = VersionPattern().Match(type.SystemId ?? "");
        if (!m.Success)
        {
            p.Add(null, $"the DOCTYPE's system id must end in cjsl-1.N.dtd, naming the spec version (got \"{Echo.Of(type.SystemId)}\")");
            throw p.Exception();
        }

        if (!int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            || !int.TryParse(m.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var minor))
        {
            p.Add(null, $"CJSL version {Echo.Of(m.Groups[1].Value)}.{Echo.Of(m.Groups[2].Value)} in the DOCTYPE's system id is not understood: versions 1.0 to {NewestVersion} are (set pyoutline's spec_version to {NewestVersion} or lower)");
            throw p.Exception();
        }

        var version = new Version(major, minor);
        if (version.Major != 1 || version > NewestVersion)
        {
            p.Add(null, $"CJSL version {version} is not understood: versions 1.0 to {NewestVersion} are (set pyoutline's spec_version to {NewestVersion} or lower)");
            throw p.Exception();
        }

        return version;
    }

    private static CjslJob? ReadJob(XElement e, string show, string shot, string user, Version? version, Problems p)
    {
        var before = p.Count;
        CheckOrder(e, JobModel, p, version);
        var specName = (string?)e.Attribute("name");
        string name = "";
        if (string.IsNullOrWhiteSpace(specName))
        {
            p.Add(e, "<job> needs a name attribute, e.g. <job name=\"train_denoiser\">");
        }
        else
        {
            name = ConformJobName(show, shot, user, specName.Trim(), out var error);
            if (error is not null)
            {
                p.Add(e, error);
            }
        }

        var maxRetries = Int(e, "maxretries", 0, 100, p);
        var env = ReadEnv(e, p);
        var layers = new List<CjslLayer>();
        var layerNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var layersElement in e.Elements("layers"))
        {
            CheckOrder(layersElement, LayersModel, p, version);
            foreach (var l in layersElement.Elements("layer"))
            {
                if (ReadLayer(l, version, p) is { } layer)
                {
                    if (!layerNames.Add(layer.Name))
                    {
                        p.Add(l, $"the layer '{Echo.Of(layer.Name)}' was already defined in job '{Echo.Of(name)}': give each layer its own name");
                    }

                    layers.Add(layer);
                }
            }
        }

        if (layers.Count == 0 && p.Count == before)
        {
            p.Add(e, $"the job '{Echo.Of(name)}' has no layers: add <layers><layer name=\"...\" type=\"Render\">...</layer></layers>");
        }

        return p.Count > before ? null : new CjslJob
        {
            SpecName = specName!.Trim(),
            Name = name,
            Line = LineOf(e),
            Paused = Bool(e, "paused", p) ?? false,
            Priority = Int(e, "priority", 0, int.MaxValue, p) ?? 0,
            MaxRetries = maxRetries,
            MaxCores = Number(e, "maxcores", p),
            MaxGpus = Number(e, "maxgpus", p),
            AutoEat = Bool(e, "autoeat", p) ?? false,
            Os = Text(e, "os"),
            Env = env,
            Layers = layers,
        };
    }

    private static CjslLayer? ReadLayer(XElement e, Version? version, Problems p)
    {
        var before = p.Count;
        CheckOrder(e, LayerModel, p, version);
        var nameText = (string?)e.Attribute("name");
        var name = nameText is null ? null : ConformName("layer", nameText, e, p);
        if (nameText is null)
        {
            p.Add(e, "<layer> needs a name attribute");
        }

        var typeText = (string?)e.Attribute("type");
        var type = LayerTypes.FirstOrDefault(t => string.Equals(t, typeText, StringComparison.OrdinalIgnoreCase));
        if (type is null)
        {
            p.Add(e, $"<layer> needs type=\"Render\", \"Util\" or \"Post\" (got '{Echo.Of(typeText)}')");
        }

        var cmd = Text(e, "cmd");
        if (cmd is { Length: 0 })
        {
            p.Add(e.Element("cmd")!, "<cmd> must not be empty");
        }

        var range = Text(e, "range");
        IReadOnlyList<int> frames = [];
        if (range is not null && !FrameSet.TryParse(range, out frames, out var rangeError))
        {
            p.Add(e.Element("range")!, rangeError);
        }

        var chunk = Int(e, "chunk", 1, FrameSet.MaxFrames, p) ?? 1;

        double? cores = null;
        if (Text(e, "cores") is { } coresText)
        {
            // As Cuebot: "2.5" is cores, "250" is hundredths of a core.
            if (double.TryParse(coresText, NumberStyles.Float, CultureInfo.InvariantCulture, out var c) && double.IsFinite(c) && c >= 0)
            {
                cores = coresText.Contains('.', StringComparison.Ordinal) ? c : c / 100.0;
            }
            else
            {
                p.Add(e.Element("cores")!, $"<cores> must be a number of cores such as 2.0, or whole hundredths of a core such as 200 (got '{Echo.Of(coresText)}')");
            }
        }

        var gpuMemory = Memory(e, "gpu_memory", p) ?? Memory(e, "gpu", p);
        var tags = (Text(e, "tags") ?? "").Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var outputs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var o in e.Elements("outputs").Elements())
        {
            if (o.Name.LocalName != "output" || (string?)o.Attribute("name") is not { Length: > 0 } outName)
            {
                p.Add(o, "<outputs> holds <output name=\"...\">path</output> elements");
                continue;
            }

            outputs[outName] = o.Value.Trim();
        }

        foreach (var list in new[] { ("limits", "limit"), ("services", "service") })
        {
            foreach (var child in e.Elements(list.Item1).Elements().Where(c => c.Name.LocalName != list.Item2))
            {
                p.Add(child, $"<{list.Item1}> holds only <{list.Item2}> elements, not <{child.Name.LocalName}>");
            }
        }

        return p.Count > before ? null : new CjslLayer
        {
            Name = name!,
            Type = type!,
            Line = LineOf(e),
            Command = cmd!,
            CommandLine = LineOf(e.Element("cmd")!),
            Range = range!.Trim(),
            Frames = frames,
            Chunk = chunk,
            Cores = cores,
            Threadable = Bool(e, "threadable", p),
            MemoryMiB = Memory(e, "memory", p),
            Gpus = Int(e, "gpus", 0, 1024, p),
            GpuMemoryMiB = gpuMemory,
            Timeout = Int(e, "timeout", 0, int.MaxValue, p),
            TimeoutLlu = Int(e, "timeout_llu", 0, int.MaxValue, p),
            Tags = tags,
            Limits = e.Elements("limits").Elements("limit").Select(l => l.Value.Trim()).Where(l => l.Length > 0).ToArray(),
            Env = ReadEnv(e, p),
            Services = e.Elements("services").Elements("service").Select(s => s.Value.Trim()).Where(s => s.Length > 0).ToArray(),
            Outputs = outputs,
        };
    }

    private static CjslDepend? ReadDepend(XElement e, Version? version, Problems p)
    {
        var before = p.Count;
        CheckOrder(e, DependModel, p, version);
        var type = (string?)e.Attribute("type");
        if (type is null || !DependTypes.Contains(type))
        {
            p.Add(e, $"<depend> needs a type attribute, one of {string.Join(", ", DependTypes)} (got '{Echo.Of(type)}')");
        }

        var anyFrame = (string?)e.Attribute("anyframe");
        bool? any = anyFrame is null ? false : ParseBool(anyFrame);
        if (any is null)
        {
            p.Add(e, $"<depend anyframe> must be True or False (got '{Echo.Of(anyFrame)}')");
        }

        return p.Count > before ? null : new CjslDepend
        {
            Type = type!,
            Line = LineOf(e),
            AnyFrame = any ?? false,
            DependJob = Text(e, "depjob") ?? "",
            DependLayer = Text(e, "deplayer"),
            DependFrame = Text(e, "depframe"),
            OnJob = Text(e, "onjob") ?? "",
            OnLayer = Text(e, "onlayer"),
            OnFrame = Text(e, "onframe"),
        };
    }

    private static Dictionary<string, string> ReadEnv(XElement parent, Problems p)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in parent.Elements("env").Elements())
        {
            if (key.Name.LocalName != "key" || (string?)key.Attribute("name") is not { Length: > 0 } keyName)
            {
                p.Add(key, "<env> holds <key name=\"NAME\">value</key> elements");
                continue;
            }

            env[keyName] = key.Value;
        }

        return env;
    }

    private static string? ConformName(string kind, string name, XElement at, Problems p)
    {
        var conformed = name.Trim().Replace('-', '_').ToLowerInvariant();
        if (!NamePattern().IsMatch(conformed))
        {
            p.Add(at, $"the {kind} name '{Echo.Of(name)}' is not in the proper format: {kind} names are at least 3 letters, digits, '_' or '.'");
            return null;
        }

        return conformed;
    }

    /// <summary>Trimmed text of the first child named <paramref name="name"/>, or null when there is none.</summary>
    private static string? Text(XElement parent, string name) => parent.Element(name)?.Value.Trim();

    private static int? Int(XElement parent, string name, int min, int max, Problems p)
    {
        if (Text(parent, name) is not { } text)
        {
            return null;
        }

        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        p.Add(parent.Element(name)!, $"<{name}> must be a whole number from {min} to {max} (got '{Echo.Of(text)}')");
        return null;
    }

    private static double? Number(XElement parent, string name, Problems p)
    {
        if (Text(parent, name) is not { } text)
        {
            return null;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) && value >= 0)
        {
            return value;
        }

        p.Add(parent.Element(name)!, $"<{name}> must be a number of at least 0 (got '{Echo.Of(text)}')");
        return null;
    }

    private static bool? Bool(XElement parent, string name, Problems p)
    {
        if (Text(parent, name) is not { } text)
        {
            return null;
        }

        var value = ParseBool(text);
        if (value is null)
        {
            p.Add(parent.Element(name)!, $"<{name}> must be True or False (got '{Echo.Of(text)}')");
        }

        return value;
    }

    private static bool? ParseBool(string text) => text.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" or "" => false,
        _ => null,
    };

    /// <summary>Cuebot's memory units: <c>512m</c> is MiB, <c>8g</c> GiB, and a bare number GiB.</summary>
    private static long? Memory(XElement parent, string name, Problems p)
    {
        if (Text(parent, name) is not { } text)
        {
            return null;
        }

        var m = MemoryPattern().Match(text.ToLowerInvariant());
        if (m.Success && double.TryParse(m.Groups["n"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
        {
            var unit = m.Groups["u"].Value;
            var mib = Math.Ceiling(unit.StartsWith('m') ? n : n * 1024);
            if (mib <= ByteSize.MaxMiB)
            {
                return (long)mib;
            }

            p.Add(parent.Element(name)!, $"<{name}> is {Echo.Of(text)}, more than any host has: the limit is {ByteSize.MaxMiB / (1024 * 1024)} TiB; check the unit (512m, 8g)");
            return null;
        }

        p.Add(parent.Element(name)!, $"<{name}> must be a size such as 512m or 8g; a bare number means GB, as in Cuebot (got '{Echo.Of(text)}')");
        return null;
    }

    /// <summary>Checks children against a DTD content model (a sequence of optional, required or repeated elements).</summary>
    private static void CheckOrder(XElement parent, Slot[] model, Problems p, Version? version)
    {
        var pos = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var reported = new HashSet<string>(StringComparer.Ordinal);
        var order = string.Join(", ", model.Select(s => s.Name));
        foreach (var child in parent.Elements())
        {
            var name = child.Name.LocalName;
            var at = Array.FindIndex(model, pos, s => s.Name == name);
            if (at < 0)
            {
                var anywhere = Array.FindIndex(model, s => s.Name == name);
                if (anywhere < 0)
                {
                    p.Add(child, $"<{name}> is not allowed in <{parent.Name.LocalName}>: it holds {order}");
                }
                else if (seen.Contains(name) && !model[anywhere].Many)
                {
                    p.Add(child, $"<{name}> appears more than once in <{parent.Name.LocalName}>: keep one");
                }
                else
                {
                    p.Add(child, $"<{name}> is out of order in <{parent.Name.LocalName}>: the order is {order}");
                }

                seen.Add(name);
                continue;
            }

            for (var k = pos; k < at; k++)
            {
                if (model[k].Required && !seen.Contains(model[k].Name) && reported.Add(model[k].Name))
                {
                    p.Add(child, $"<{parent.Name.LocalName}> needs <{model[k].Name}> before <{name}>");
                }
            }

            if (version is not null && model[at].Since is { } since && version < since)
            {
                p.Add(child, $"<{name}> needs CJSL {since} or newer, but the DOCTYPE says {version}: raise the version in the DOCTYPE's system id");
            }

            if (model[at].Text && child.HasElements)
            {
                p.Add(child, $"<{name}> holds text only, not elements");
            }

            seen.Add(name);
            pos = model[at].Many ? at : at + 1;
        }

        foreach (var slot in model.Where(s => s.Required && !seen.Contains(s.Name) && !reported.Contains(s.Name)))
        {
            p.Add(parent, $"<{parent.Name.LocalName}> needs <{slot.Name}>");
        }
    }

    private static int LineOf(XObject? node) => node is IXmlLineInfo info && info.HasLineInfo() ? info.LineNumber : 0;

    /// <summary>One element of a content model: required or optional, once or repeated, text or elements, and the first version that has it.</summary>
    private sealed record Slot(string Name, bool Required = false, bool Many = false, bool Text = true, Version? Since = null);

    private static readonly Slot[] SpecModel =
    [
        new("facility"), new("dept"), new("show", Required: true), new("shot", Required: true), new("user", Required: true),
        new("email"), new("uid"), new("job", Many: true, Text: false), new("depends", Many: true, Text: false),
    ];

    private static readonly Slot[] JobModel =
    [
        new("paused"), new("priority", Since: new(1, 11)), new("maxretries"), new("maxcores", Since: new(1, 13)), new("maxgpus", Since: new(1, 13)),
        new("autoeat"), new("localbook"), new("os"), new("env", Many: true, Text: false), new("layers", Text: false),
    ];

    private static readonly Slot[] LayersModel = [new("layer", Required: true, Many: true, Text: false)];

    private static readonly Slot[] LayerModel =
    [
        new("cmd", Required: true), new("range", Required: true), new("chunk", Required: true), new("cores"), new("threadable"), new("memory"),
        new("gpus", Since: new(1, 12)), new("gpu"), new("gpu_memory", Since: new(1, 12)), new("timeout", Since: new(1, 10)), new("timeout_llu", Since: new(1, 10)),
        new("tags"), new("limits", Text: false), new("env", Many: true, Text: false), new("services", Text: false), new("outputs", Many: true, Text: false, Since: new(1, 14)),
    ];

    private static readonly Slot[] DependsModel = [new("depend", Many: true, Text: false)];

    private static readonly Slot[] DependModel =
    [
        new("depjob", Required: true), new("deplayer"), new("depframe"), new("onjob", Required: true), new("onlayer"), new("onframe"),
    ];

    private static readonly string[] LayerTypes = ["Render", "Util", "Post"];

    private static readonly string[] DependTypes =
    [
        "LAYER_ON_SIM_FRAME", "PREVIOUS_FRAME", "JOB_ON_JOB", "JOB_ON_LAYER", "JOB_ON_FRAME", "LAYER_ON_JOB", "LAYER_ON_FRAME",
        "LAYER_ON_LAYER", "FRAME_ON_JOB", "FRAME_ON_LAYER", "FRAME_ON_FRAME", "FRAME_BY_FRAME",
    ];

    [GeneratedRegex(@"^[A-Za-z0-9_.]{3,}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("_{2,}")]
    private static partial Regex RepeatedUnderscores();

    [GeneratedRegex(@"cjsl-([0-9]+)\.([0-9]+)\.dtd$")]
    private static partial Regex VersionPattern();

    [GeneratedRegex(@"^(?<n>[0-9]+(?:\.[0-9]+)?)\s*(?<u>mb?|gb?)?$")]
    private static partial Regex MemoryPattern();

    /// <summary>Problems found so far, each prefixed with the source, line and element.</summary>
    private sealed class Problems(string source)
    {
        private readonly List<string> _list = new();

        public int Count => _list.Count;

        public void Add(XElement? at, string message)
        {
            var line = LineOf(at);
            var where = line > 0 ? $"{source}:{line}" : source;
            _list.Add(at is null ? $"{where}: {message}" : $"{where}: <{at.Name.LocalName}>: {message}");
        }

        public JobSpecException Exception() => new(_list.ToArray());
    }
}
