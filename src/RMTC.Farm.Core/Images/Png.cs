using System.Runtime.InteropServices;
using StbImageSharp;
using StbImageWriteSharp;
using ReadComponents = StbImageSharp.ColorComponents;
using WriteComponents = StbImageWriteSharp.ColorComponents;

namespace RMTC.Farm.Core.Images;

/// <summary>
/// PNG in and out for the whole project (dataset imports, inference inputs and outputs): stb_image and stb_image_write
/// through their C# ports (StbImageSharp, StbImageWriteSharp; no native library) do the decoding and encoding, behind
/// the project's own checks of the chunk layout (<see cref="PngStructure"/>). Read: 8-bit (and, for
/// <see cref="DecodePlanes"/>, 16-bit) gray, gray+alpha, RGB and RGBA, non-interlaced; palette and interlaced files
/// are refused with a clear <see cref="PngFormatException"/>, as are damaged ones.
/// </summary>
public static class Png
{
    /// <summary>Largest width or height accepted (a guard against absurd headers).</summary>
    public const int MaxSide = 1 << 15;

    /// <summary>Reads an 8-bit PNG file. Throws <see cref="PngFormatException"/> (or IOException when unreadable).</summary>
    public static Image8 ReadFile(string path) => Decode(File.ReadAllBytes(path));

    /// <summary>Decodes 8-bit PNG bytes. Throws <see cref="PngFormatException"/>.</summary>
    public static Image8 Decode(ReadOnlySpan<byte> png)
    {
        var header = PngStructure.Check(png, allow16: false);
        var pixels = Decode8(header);
        return new Image8(header.Width, header.Height, header.Channels, pixels);
    }

    /// <summary>
    /// Decodes an 8- or 16-bit PNG into planar floats in [0, 1] ([channels, height, width], like a model input).
    /// Throws <see cref="PngFormatException"/>.
    /// </summary>
    public static PlanarImage DecodePlanes(ReadOnlySpan<byte> png)
    {
        var header = PngStructure.Check(png, allow16: true);
        var (width, height, channels) = (header.Width, header.Height, header.Channels);
        var plane = width * height;
        var planes = new float[channels * plane];
        if (header.Depth == 8)
        {
            var pixels = Decode8(header);
            for (var p = 0; p < plane; p++)
            {
                for (var c = 0; c < channels; c++)
                {
                    planes[c * plane + p] = pixels[p * channels + c] / 255f;
                }
            }
        }
        else
        {
            var samples = Decode16(header);
            for (var p = 0; p < plane; p++)
            {
                for (var c = 0; c < channels; c++)
                {
                    planes[c * plane + p] = samples[p * channels + c] / 65535f;
                }
            }
        }

        return new PlanarImage(width, height, channels, planes);
    }

    /// <summary>Reads a PNG file as planar floats (see <see cref="DecodePlanes"/>).</summary>
    public static PlanarImage ReadPlanesFile(string path) => DecodePlanes(File.ReadAllBytes(path));

    /// <summary>Encodes an 8-bit image (1 to 4 channels) as PNG.</summary>
    public static byte[] Encode(Image8 image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var components = image.Channels switch
        {
            1 => WriteComponents.Grey,
            2 => WriteComponents.GreyAlpha,
            3 => WriteComponents.RedGreenBlue,
            4 => WriteComponents.RedGreenBlueAlpha,
            _ => throw new ArgumentException($"PNG holds 1 to 4 channels, got {image.Channels}", nameof(image)),
        };
        if (image.Pixels.Length != (long)image.Width * image.Height * image.Channels)
        {
            throw new ArgumentException($"{image.Width}x{image.Height}x{image.Channels} needs {(long)image.Width * image.Height * image.Channels} bytes, got {image.Pixels.Length}", nameof(image));
        }

        using var output = new MemoryStream();
        new ImageWriter().WritePng(image.Pixels, image.Width, image.Height, components, output);
        return output.ToArray();
    }

    /// <summary>Encodes planar floats [channels, height, width] (1 or 3 channels, clamped to [0, 1], NaN as 0) as an 8-bit PNG.</summary>
    public static byte[] EncodePlanes(ReadOnlySpan<float> planes, int channels, int height, int width)
    {
        if (channels is not (1 or 3))
        {
            throw new ArgumentException($"PNG output needs 1 (grey) or 3 (RGB) channels, the tensor has {channels}", nameof(channels));
        }

        if (planes.Length != channels * height * width)
        {
            throw new ArgumentException($"{planes.Length} values do not make a {channels}x{height}x{width} image", nameof(planes));
        }

        var plane = width * height;
        var pixels = new byte[channels * plane];
        for (var p = 0; p < plane; p++)
        {
            for (var c = 0; c < channels; c++)
            {
                var v = planes[c * plane + p];
                pixels[p * channels + c] = (byte)MathF.Round(Math.Clamp(float.IsNaN(v) ? 0f : v, 0f, 1f) * 255f);
            }
        }

        return Encode(new Image8(width, height, channels, pixels));
    }

    /// <summary>Writes planar floats as an 8-bit PNG file (see <see cref="EncodePlanes"/>).</summary>
    public static void WritePlanesFile(string path, ReadOnlySpan<float> planes, int channels, int height, int width) =>
        File.WriteAllBytes(path, EncodePlanes(planes, channels, height, width));

    private static ReadComponents Components(int channels) => channels switch
    {
        1 => ReadComponents.Grey,
        2 => ReadComponents.GreyAlpha,
        3 => ReadComponents.RedGreenBlue,
        _ => ReadComponents.RedGreenBlueAlpha,
    };

    private static byte[] Decode8(PngHeader header)
    {
        ImageResult result;
        try
        {
            result = ImageResult.FromMemory(header.Canonical, Components(header.Channels));
        }
        catch (Exception e) when (e is InvalidOperationException or IndexOutOfRangeException or ArgumentException or IOException or OverflowException)
        {
            throw Damaged(header, e.Message);
        }

        if (result.Width != header.Width || result.Height != header.Height)
        {
            throw Damaged(header, $"the decoder read {result.Width}x{result.Height}");
        }

        return result.Data;
    }

    private static unsafe ushort[] Decode16(PngHeader header)
    {
        // ImageResult narrows 16-bit samples to 8; stb_image's 16-bit entry point keeps them (the port exposes it).
        using var stream = new MemoryStream(header.Canonical);
        int width, height, components;
        ushort* result = null;
        try
        {
            result = StbImage.stbi__load_and_postprocess_16bit(new StbImage.stbi__context(stream), &width, &height, &components, header.Channels);
            if (result == null)
            {
                throw Damaged(header, StbImage.stbi__g_failure_reason ?? "unknown fault");
            }

            if (width != header.Width || height != header.Height)
            {
                throw Damaged(header, $"the decoder read {width}x{height}");
            }

            return new ReadOnlySpan<ushort>(result, width * height * header.Channels).ToArray();
        }
        catch (Exception e) when (e is InvalidOperationException or IndexOutOfRangeException or ArgumentException or IOException or OverflowException)
        {
            throw Damaged(header, e.Message);
        }
        finally
        {
            // StbImageSharp 2.30.16 allocates with Marshal.AllocHGlobal (its CRuntime.malloc), so that is how the result is freed.
            if (result != null)
            {
                Marshal.FreeHGlobal((IntPtr)result);
            }
        }
    }

    private static PngFormatException Damaged(PngHeader header, string fault) =>
        new($"image data is damaged or short for {header.Width}x{header.Height} with {header.Channels} channels: {fault}");
}
