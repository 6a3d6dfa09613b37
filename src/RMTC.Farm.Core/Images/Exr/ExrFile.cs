namespace RMTC.Farm.Core.Images.Exr;

/// <summary>
/// OpenEXR files read and written by OpenEXR's own C library (OpenEXRCore 3.1, Debian's <c>libopenexr-3-1-30</c>):
/// half, float and uint channels, scanline and tiled parts, every compression the library has, single- and multi-part
/// files, data and display windows. Pixels come out as planar float per channel. Damaged, truncated and unsupported
/// files (deep data, subsampled channels) throw <see cref="ExrFormatException"/> naming the file and the fault.
/// </summary>
public static class ExrFile
{
    /// <summary>Largest data-window width or height the library is allowed to accept (a guard against absurd headers).</summary>
    public const int MaxSide = 1 << 16;

    /// <summary>Largest tile side accepted.</summary>
    public const int MaxTileSide = 1 << 13;

    /// <summary>Most samples (pixels × channels) decoded from one part: 1 GiB of float.</summary>
    public const long MaxSamples = 1L << 28;

    /// <summary>
    /// Most decoded float bytes per byte of file. Lossless codecs stay far below it on real renders; a header that asks for
    /// more is refused before its buffers are allocated (DWA on a constant frame can exceed it: raise it for such files).
    /// </summary>
    public const long MaxExpansion = 8192;

    /// <summary>Decoded bytes always allowed, whatever the file size (small frames compress very well when flat).</summary>
    public const long ExpansionSlack = 4L << 20;

    /// <summary>Reads the headers only (parts, windows, channels, compression, tiling): no pixel is decoded.</summary>
    public static ExrImage ReadHeader(string path) => ExrReader.Read(path, pixels: false);

    /// <summary>Reads every part with its pixels (level 0 of tiled parts), each channel as planar float.</summary>
    public static ExrImage Read(string path) => ExrReader.Read(path, pixels: true);

    /// <summary>Writes the image, each part with its own compression and tiling.</summary>
    public static void Write(string path, ExrImage image) => ExrWriter.Write(path, image, p => (p.Compression, p.Tiling));

    /// <summary>Writes the image with one compression for every part, as scanlines or, when <paramref name="tiling"/> is given, as tiles.</summary>
    public static void Write(string path, ExrImage image, ExrCompression compression, ExrTiling? tiling = null) =>
        ExrWriter.Write(path, image, _ => (compression, tiling));

    /// <summary>
    /// Why OpenEXR 3.1's C library (the one Debian ships) cannot handle a part with this compression and these channels,
    /// or null when it can: it has no DWAA/DWAB codec in C (3.2 added one), its B44/B44A decoder scrambles float and
    /// uint channels (half channels, what B44 is for, are right), its B44 encoder writes small tiles larger than raw,
    /// which its own reader then refuses, and its PXR24 encoder garbles chunks that do not compress (narrow edge tiles).
    /// Reading B44 (half) and PXR24 works. Checked against OpenImageIO's C++ decode in the tests.
    /// </summary>
    internal static string? Unsupported(ExrCompression compression, IEnumerable<ExrChannel> channels, bool writing)
    {
        if (writing && compression is ExrCompression.B44 or ExrCompression.B44a or ExrCompression.Pxr24)
        {
            return $"{compression.ToString().ToUpperInvariant()} cannot be written reliably by OpenEXR 3.1's C library (chunks that do not compress come out damaged): write ZIP or PIZ (lossless) instead";
        }

        const string convert = "convert it to a lossless compression first, e.g. oiiotool in.exr --compression zip -o out.exr";
        if (compression is ExrCompression.Dwaa or ExrCompression.Dwab)
        {
            return $"{compression.ToString().ToUpperInvariant()} compression is not available in OpenEXR 3.1's C library (libopenexr-3-1-30): {convert}";
        }

        if (compression is ExrCompression.B44 or ExrCompression.B44a && channels.FirstOrDefault(c => c.Type != ExrPixelType.Half) is { } wide)
        {
            return $"{compression.ToString().ToUpperInvariant()} with a {wide.Type.ToString().ToLowerInvariant()} channel ({wide.Name}) is not decoded correctly by OpenEXR 3.1's C library: {convert}";
        }

        return null;
    }

    /// <summary>The context settings: our error handler (messages go into exceptions, not stderr) and the size guards.</summary>
    internal static ExrContextInitializer Initializer() => new()
    {
        Size = (nuint)System.Runtime.CompilerServices.Unsafe.SizeOf<ExrContextInitializer>(),
        ErrorHandler = OpenExrCore.ErrorHandler,
        MaxImageWidth = MaxSide,
        MaxImageHeight = MaxSide,
        MaxTileWidth = MaxTileSide,
        MaxTileHeight = MaxTileSide,
        ZipLevel = -2,
        DwaQuality = -1f,
    };
}
