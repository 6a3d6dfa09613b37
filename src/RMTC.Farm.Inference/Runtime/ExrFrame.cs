using RMTC.Farm.Core.Images.Exr;

namespace RMTC.Farm.Inference.Runtime;

/// <summary>
/// A rendered EXR frame as a render model sees it: the model's input channels read by name from one part, and the way
/// back, an EXR that is the input with the model's output in place of the target channels and everything else (other
/// channels and parts, windows, compression, tiling, carried attributes) as it was.
/// </summary>
public sealed class ExrFrame
{
    private ExrFrame(string path, ExrImage image, int partIndex, IReadOnlyList<string> inputs, IReadOnlyList<string> targets, float[] values, int nonFinite)
    {
        Path = path;
        Image = image;
        PartIndex = partIndex;
        InputChannels = inputs;
        TargetChannels = targets;
        Values = values;
        NonFinite = nonFinite;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The whole file, every part with its pixels.</summary>
    public ExrImage Image { get; }

    /// <summary>The part the channels were found in.</summary>
    public int PartIndex { get; }

    /// <summary>The part's channels that feed the model, in the model's input order.</summary>
    public IReadOnlyList<string> InputChannels { get; }

    /// <summary>The part's channels the output replaces, in the model's output order.</summary>
    public IReadOnlyList<string> TargetChannels { get; }

    /// <summary>The model's input, planar [channels, height, width] over the part's data window.</summary>
    public float[] Values { get; }

    /// <summary>NaN or infinite input samples, fed to the model as 0 (a renderer's stray sample must not spread).</summary>
    public int NonFinite { get; }

    /// <summary>Height of the part's data window.</summary>
    public int Height => Image.Parts[PartIndex].Height;

    /// <summary>Width of the part's data window.</summary>
    public int Width => Image.Parts[PartIndex].Width;

    /// <summary>
    /// Reads <paramref name="path"/> for a model that takes <paramref name="inputChannels"/> and writes
    /// <paramref name="targetChannels"/> (names from its metadata). A name matches a channel of that exact name, else the
    /// one channel whose name ends the same without the view-layer prefix (<c>ViewLayer.Combined.R</c> finds
    /// <c>RenderLayer.Combined.R</c> or <c>Combined.R</c>). The first part holding every channel is used. Throws
    /// <see cref="InvalidDataException"/> naming what is missing and what the file has.
    /// </summary>
    public static ExrFrame Read(string path, IReadOnlyList<string> inputChannels, IReadOnlyList<string> targetChannels)
    {
        ArgumentNullException.ThrowIfNull(inputChannels);
        ArgumentNullException.ThrowIfNull(targetChannels);
        ExrImage image;
        try
        {
            image = ExrFile.Read(path);
        }
        catch (ExrFormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }

        string? why = null;
        for (var p = 0; p < image.Parts.Count; p++)
        {
            var part = image.Parts[p];
            var inputs = inputChannels.Select(n => Resolve(n, part.Channels)).ToList();
            var targets = targetChannels.Select(n => Resolve(n, part.Channels)).ToList();
            var missing = inputChannels.Concat(targetChannels).Where((_, i) => (i < inputs.Count ? inputs[i] : targets[i - inputs.Count]) is null).Distinct().ToList();
            if (missing.Count > 0)
            {
                why ??= $"part {p}{(part.Name is null ? "" : $" ({part.Name})")} lacks {string.Join(", ", missing)}; it has {string.Join(", ", part.Channels.Take(24).Select(c => c.Name))}{(part.Channels.Count > 24 ? ", ..." : "")}";
                continue;
            }

            var plane = part.Width * part.Height;
            var values = new float[(long)inputs.Count * plane];
            var nonFinite = 0;
            for (var c = 0; c < inputs.Count; c++)
            {
                var source = part[inputs[c]!];
                var target = values.AsSpan(c * plane, plane);
                for (var i = 0; i < plane; i++)
                {
                    var v = source[i];
                    if (!float.IsFinite(v))
                    {
                        v = 0;
                        nonFinite++;
                    }

                    target[i] = v;
                }
            }

            return new ExrFrame(path, image, p, inputs!, targets!, values, nonFinite);
        }

        throw new InvalidDataException(
            $"{path}: no part holds the channels the model reads ({string.Join(", ", inputChannels)}) and writes ({string.Join(", ", targetChannels)}): {why}. Render with those passes (e.g. Blender's denoising data) or rename the channels (oiiotool --chnames)");
    }

    /// <summary>
    /// The input image with the model's <paramref name="output"/> (planar [targets, height, width]) in place of the
    /// target channels and <paramref name="attributes"/> added to (or replacing those of the same name in) the part's
    /// header. A compression this library cannot write (B44, B44A, PXR24) becomes ZIP; <paramref name="note"/> says so.
    /// </summary>
    public ExrImage WithOutput(float[] output, IReadOnlyList<ExrAttribute> attributes, out string? note)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(attributes);
        var part = Image.Parts[PartIndex];
        var plane = part.Width * part.Height;
        if (output.LongLength != (long)TargetChannels.Count * plane)
        {
            throw new ArgumentException($"output has {output.LongLength} values, not {TargetChannels.Count}x{part.Height}x{part.Width}", nameof(output));
        }

        var pixels = part.Channels.Select(c => part[c.Name]).ToArray();
        for (var t = 0; t < TargetChannels.Count; t++)
        {
            var index = part.Channels.ToList().FindIndex(c => c.Name == TargetChannels[t]);
            pixels[index] = output.AsSpan(t * plane, plane).ToArray();
        }

        var names = attributes.Select(a => a.Name).ToHashSet(StringComparer.Ordinal);
        var merged = part.Attributes.Where(a => !names.Contains(a.Name)).Concat(attributes).ToList();
        note = null;
        var compression = part.Compression;
        if (compression is ExrCompression.B44 or ExrCompression.B44a or ExrCompression.Pxr24)
        {
            note = $"{compression.ToString().ToUpperInvariant()} cannot be written reliably by OpenEXR 3.1's C library: the output is ZIP-compressed";
            compression = ExrCompression.Zip;
        }

        var replaced = new ExrPart(part.Name, part.DataWindow, part.DisplayWindow, part.Channels, compression, part.Tiling, pixels, merged);
        return new ExrImage(Image.Parts.Select((p, i) => i == PartIndex ? replaced : p).ToList());
    }

    /// <summary>The channel <paramref name="wanted"/> names in <paramref name="channels"/>, or null (also when the match is ambiguous).</summary>
    internal static string? Resolve(string wanted, IReadOnlyList<ExrChannel> channels)
    {
        if (channels.Any(c => c.Name == wanted))
        {
            return wanted;
        }

        // Without the leading view layer when the name has one (layer.pass.channel), so renders from another layer or
        // renderer's naming of the same pass still match; an ambiguous match is no match.
        var segments = wanted.Split('.');
        var suffix = segments.Length >= 3 ? string.Join('.', segments[1..]) : wanted;
        var candidates = channels.Where(c => c.Name == suffix || c.Name.EndsWith("." + suffix, StringComparison.Ordinal)).ToList();
        return candidates.Count == 1 ? candidates[0].Name : null;
    }
}
