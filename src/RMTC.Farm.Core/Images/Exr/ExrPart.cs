namespace RMTC.Farm.Core.Images.Exr;

/// <summary>
/// One part of an EXR file: its header (name, windows, channels, compression, tiling) and, when read with pixels or
/// built for writing, one planar float array per channel covering the data window row by row.
/// </summary>
public sealed class ExrPart
{
    /// <summary>A part; <paramref name="pixels"/>, when given, holds one array per channel in the order of <paramref name="channels"/>.</summary>
    public ExrPart(
        string? name, ExrBox dataWindow, ExrBox displayWindow, IReadOnlyList<ExrChannel> channels,
        ExrCompression compression = ExrCompression.Zip, ExrTiling? tiling = null, IReadOnlyList<float[]>? pixels = null,
        IReadOnlyList<ExrAttribute>? attributes = null)
    {
        if (pixels is not null && pixels.Count != channels.Count)
        {
            throw new ArgumentException($"{channels.Count} channels but {pixels.Count} pixel arrays", nameof(pixels));
        }

        Name = name;
        DataWindow = dataWindow;
        DisplayWindow = displayWindow;
        Channels = channels;
        Compression = compression;
        Tiling = tiling;
        Pixels = pixels;
        Attributes = attributes ?? [];
        if (Attributes.Select(a => a.Name).Distinct(StringComparer.Ordinal).Count() != Attributes.Count)
        {
            throw new ArgumentException($"attribute names must be distinct (got {string.Join(", ", Attributes.Select(a => a.Name))})", nameof(attributes));
        }
    }

    /// <summary>The part's name (required in multi-part files, often absent in single-part ones).</summary>
    public string? Name { get; }

    /// <summary>The pixels the file holds (may be smaller, larger or offset from the display window).</summary>
    public ExrBox DataWindow { get; }

    /// <summary>The frame the image is meant to fill.</summary>
    public ExrBox DisplayWindow { get; }

    /// <summary>The channels, in the file's order (alphabetical by name, as OpenEXR stores them).</summary>
    public IReadOnlyList<ExrChannel> Channels { get; }

    /// <summary>How the part's chunks are compressed.</summary>
    public ExrCompression Compression { get; }

    /// <summary>Tile size for a tiled part; null for scanlines.</summary>
    public ExrTiling? Tiling { get; }

    /// <summary>Planar samples per channel (data window width × height, row-major); null when only the header was read.</summary>
    public IReadOnlyList<float[]>? Pixels { get; }

    /// <summary>
    /// Header attributes beyond the fields above, in file order: strings, ints, floats, doubles, vectors, matrices,
    /// boxes and chromaticities (see <see cref="ExrAttributeType"/>); attributes of other types are not read.
    /// </summary>
    public IReadOnlyList<ExrAttribute> Attributes { get; }

    /// <summary>A copy of this part with other pixels (one array per channel, same order) and, when given, other attributes.</summary>
    public ExrPart With(IReadOnlyList<float[]> pixels, IReadOnlyList<ExrAttribute>? attributes = null) =>
        new(Name, DataWindow, DisplayWindow, Channels, Compression, Tiling, pixels, attributes ?? Attributes);

    /// <summary>The attribute named <paramref name="name"/>, or null.</summary>
    public ExrAttribute? Attribute(string name) => Attributes.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.Ordinal));

    /// <summary>Width of the data window.</summary>
    public int Width => (int)DataWindow.Width;

    /// <summary>Height of the data window.</summary>
    public int Height => (int)DataWindow.Height;

    /// <summary>Whether the part has a channel of this exact name.</summary>
    public bool HasChannel(string name) => IndexOf(name) >= 0;

    /// <summary>The samples of the channel named <paramref name="name"/>; KeyNotFoundException lists the channels there are.</summary>
    public float[] this[string name]
    {
        get
        {
            var index = IndexOf(name);
            if (index < 0)
            {
                throw new KeyNotFoundException($"part {Name ?? "(unnamed)"} has no channel '{name}'; it has {string.Join(", ", Channels.Select(c => c.Name))}");
            }

            return Pixels?[index] ?? throw new InvalidOperationException("only the header was read: use ExrFile.Read for the pixels");
        }
    }

    private int IndexOf(string name)
    {
        for (var i = 0; i < Channels.Count; i++)
        {
            if (string.Equals(Channels[i].Name, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
