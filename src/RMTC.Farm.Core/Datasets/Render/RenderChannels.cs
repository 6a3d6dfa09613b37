namespace RMTC.Farm.Core.Datasets.Render;

/// <summary>
/// Picks EXR channels by name: <c>LAYER.COMPONENTS</c> groups such as <c>Combined.RGB</c> or
/// <c>Denoising Normal.XYZ</c>, each letter one channel (<c>Combined.R</c>, <c>Combined.G</c>, ...), matched at a
/// '.' boundary so a renderer's view-layer or part prefix (<c>ViewLayer.Combined.R</c>) needs no spelling out; the
/// component letter is matched without regard to case (RenderMan writes <c>Ci.r</c>). A bare <c>RGB</c> means the
/// top-level R, G, B channels. A group may also be one channel's full name.
/// </summary>
public static class RenderChannels
{
    /// <summary>The input channels tried when none are named: beauty, albedo and normal, in Blender's, RenderMan's and Arnold's names.</summary>
    public static IReadOnlyList<(string Role, string[] Names)> DefaultInput { get; } =
    [
        ("beauty", ["Combined.RGB", "Ci.RGB", "RGB"]),
        ("albedo", ["Denoising Albedo.RGB", "albedo.RGB", "denoise_albedo.RGB", "diffuse_albedo.RGB"]),
        ("normal", ["Denoising Normal.XYZ", "normal.XYZ", "N.XYZ", "normal.RGB", "N.RGB"]),
    ];

    /// <summary>The target channels tried when none are named: the beauty.</summary>
    public static IReadOnlyList<(string Role, string[] Names)> DefaultTarget { get; } = [DefaultInput[0]];

    /// <summary>
    /// The full names of the channels <paramref name="spec"/> (comma-separated groups; null for <paramref name="defaults"/>)
    /// picks from <paramref name="channels"/>, in order. Throws <see cref="DatasetException"/> naming the group, the
    /// file and the channels it has.
    /// </summary>
    public static IReadOnlyList<string> Resolve(IReadOnlyList<string> channels, string? spec, IReadOnlyList<(string Role, string[] Names)> defaults, string file, string option)
    {
        var picked = new List<string>();
        if (string.IsNullOrWhiteSpace(spec))
        {
            foreach (var (role, names) in defaults)
            {
                var found = names.Select(n => Match(channels, n, file)).FirstOrDefault(m => m is not null)
                    ?? throw new DatasetException(
                        $"{file}: no {role} channels under the default names ({string.Join(", ", names)}); the file has {List(channels)}. Name them with {option}, e.g. {option} '{Suggest(channels)}'");
                picked.AddRange(found);
            }
        }
        else
        {
            foreach (var group in spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                picked.AddRange(Match(channels, group, file)
                    ?? throw new DatasetException($"{file}: {option} '{group}' matches no channel; the file has {List(channels)}"));
            }
        }

        var twice = picked.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
        {
            throw new DatasetException($"{file}: {option} picks channel {twice.Key} twice");
        }

        return picked;
    }

    /// <summary>The channels one group names, or null when it matches nothing.</summary>
    private static List<string>? Match(IReadOnlyList<string> channels, string group, string file)
    {
        if (channels.Contains(group, StringComparer.Ordinal))
        {
            return [group];
        }

        var dot = group.LastIndexOf('.');
        var layer = dot < 0 ? "" : group[..dot];
        var components = dot < 0 ? group : group[(dot + 1)..];
        if (components.Length == 0)
        {
            return null;
        }

        // The prefix (view layer, part) is taken from the first component and must hold the others too.
        var firsts = channels.Where(c => Fits(c, layer, components[0])).ToList();
        if (firsts.Count == 0)
        {
            return null;
        }

        if (firsts.Count > 1)
        {
            throw new DatasetException($"{file}: '{group}' is ambiguous: {string.Join(", ", firsts)} all fit; name the channels in full (e.g. '{firsts[0][..(firsts[0].Length - 1)]}{components}')");
        }

        var prefix = firsts[0][..^1];
        var picked = new List<string>(components.Length);
        foreach (var component in components)
        {
            var name = channels.FirstOrDefault(c => c.Length == prefix.Length + 1 && c.StartsWith(prefix, StringComparison.Ordinal) && char.ToUpperInvariant(c[^1]) == char.ToUpperInvariant(component));
            if (name is null)
            {
                return null;
            }

            picked.Add(name);
        }

        return picked;
    }

    private static bool Fits(string channel, string layer, char component)
    {
        if (channel.Length == 0 || char.ToUpperInvariant(channel[^1]) != char.ToUpperInvariant(component))
        {
            return false;
        }

        var head = channel[..^1];
        if (layer.Length == 0)
        {
            return head.Length == 0;
        }

        return head == layer + "." || head.EndsWith("." + layer + ".", StringComparison.Ordinal);
    }

    private static string List(IReadOnlyList<string> channels) =>
        channels.Count == 0 ? "no channels" : string.Join(", ", channels.Select(c => $"'{c}'"));

    /// <summary>A spec built from the file's own layers, for the error's example.</summary>
    private static string Suggest(IReadOnlyList<string> channels)
    {
        var layers = channels.Select(c => c.LastIndexOf('.') is var d and > 0 ? c[..d] : "").Distinct(StringComparer.Ordinal).Where(l => l.Length > 0).Take(3).ToList();
        return layers.Count == 0 ? "RGB" : string.Join(",", layers.Select(l => l + "." + string.Concat(channels.Where(c => c.StartsWith(l + ".", StringComparison.Ordinal) && c.Length == l.Length + 2).Select(c => c[^1]))));
    }
}
