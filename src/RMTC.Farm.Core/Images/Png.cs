using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace RMTC.Farm.Core.Images;

/// <summary>
/// A small PNG reader and writer of our own (no native imaging library): 8-bit gray, gray+alpha, RGB and RGBA,
/// non-interlaced, all five row filters. Anything else (16-bit, palette, interlaced) is refused with a clear error.
/// </summary>
public static class Png
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Largest width or height accepted (a guard against absurd headers).</summary>
    public const int MaxSide = 1 << 15;

    /// <summary>The most a deflate stream can expand (RFC 1951: at best one 258-byte match per two bits of code).</summary>
    private const long MaxDeflateRatio = 1032;

    /// <summary>Reads a PNG file. Throws <see cref="PngFormatException"/> (or IOException when unreadable).</summary>
    public static Image8 ReadFile(string path) => Decode(File.ReadAllBytes(path));

    /// <summary>Decodes PNG bytes. Throws <see cref="PngFormatException"/>.</summary>
    public static Image8 Decode(ReadOnlySpan<byte> png)
    {
        if (png.Length < Signature.Length || !png[..Signature.Length].SequenceEqual(Signature))
        {
            throw new PngFormatException("not a PNG file (the 8-byte PNG signature is missing)");
        }

        var pos = Signature.Length;
        int width = 0, height = 0, channels = 0;
        var sawHeader = false;
        var sawEnd = false;
        using var idat = new MemoryStream();
        while (pos < png.Length)
        {
            if (png.Length - pos < 12)
            {
                throw new PngFormatException($"truncated chunk at byte {pos}");
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(png[pos..]);
            var type = Encoding.ASCII.GetString(png.Slice(pos + 4, 4));
            if (length > int.MaxValue || png.Length - pos - 12 < length)
            {
                throw new PngFormatException($"truncated: chunk {type} at byte {pos} says {length} bytes, the file has {png.Length - pos - 12} left");
            }

            var data = png.Slice(pos + 8, (int)length);
            var crc = BinaryPrimitives.ReadUInt32BigEndian(png[(pos + 8 + (int)length)..]);
            if (Crc32.Update(0, png.Slice(pos + 4, 4 + (int)length)) != crc)
            {
                throw new PngFormatException($"chunk {type} at byte {pos} fails its CRC check: the file is damaged");
            }

            pos += 12 + (int)length;
            switch (type)
            {
                case "IHDR":
                    (width, height, channels) = ReadHeader(data);
                    sawHeader = true;
                    break;
                case "IDAT":
                    if (!sawHeader)
                    {
                        throw new PngFormatException("IDAT before IHDR");
                    }

                    idat.Write(data);
                    break;
                case "IEND":
                    sawEnd = true;
                    pos = png.Length;
                    break;
                case "PLTE":
                    throw new PngFormatException("palette PNGs are not supported: save as 8-bit gray, RGB or RGBA");
                default:
                    // Ancillary chunks (text, gamma, ...) carry nothing a training sample needs.
                    if (char.IsUpper(type[0]))
                    {
                        throw new PngFormatException($"unknown critical chunk {type}");
                    }

                    break;
            }
        }

        if (!sawHeader)
        {
            throw new PngFormatException("no IHDR chunk");
        }

        if (!sawEnd)
        {
            throw new PngFormatException("truncated: no IEND chunk");
        }

        var stride = width * channels;
        var rawLength = (long)(stride + 1) * height;
        if (rawLength > Array.MaxLength)
        {
            throw new PngFormatException($"{width}x{height} with {channels} channels is too large to decode ({rawLength} bytes): split it into tiles");
        }

        // Deflate expands at most ~1032:1, so image data shorter than that bound cannot fill the rows: refuse before
        // allocating them (a 100-byte file claiming 32768x32768 would otherwise allocate 4 GiB).
        if (rawLength > (idat.Length * MaxDeflateRatio) + 1024)
        {
            throw new PngFormatException($"image data is short: {idat.Length} compressed bytes cannot hold {width}x{height} with {channels} channels; the file is truncated or its IHDR size is wrong");
        }

        var raw = new byte[rawLength];
        idat.Position = 0;
        try
        {
            // Damaged data surfaces as InvalidDataException, EndOfStreamException or (from zlib itself) ZLibException, an IOException.
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            z.ReadExactly(raw);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new PngFormatException($"image data is damaged or short for {width}x{height} with {channels} channels: {e.Message}");
        }

        var pixels = new byte[(long)stride * height];
        Unfilter(raw, pixels, width, height, channels);
        return new Image8(width, height, channels, pixels);
    }

    /// <summary>Encodes an 8-bit image (1 to 4 channels) as PNG with no row filter.</summary>
    public static byte[] Encode(Image8 image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var colour = image.Channels switch
        {
            1 => (byte)0,
            2 => (byte)4,
            3 => (byte)2,
            4 => (byte)6,
            _ => throw new ArgumentException($"PNG holds 1 to 4 channels, got {image.Channels}", nameof(image)),
        };
        var stride = image.Width * image.Channels;
        if (image.Pixels.Length != (long)stride * image.Height)
        {
            throw new ArgumentException($"{image.Width}x{image.Height}x{image.Channels} needs {(long)stride * image.Height} bytes, got {image.Pixels.Length}", nameof(image));
        }

        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (var y = 0; y < image.Height; y++)
            {
                z.WriteByte(0);
                z.Write(image.Pixels, y * stride, stride);
            }
        }

        using var output = new MemoryStream();
        output.Write(Signature);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, image.Width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), image.Height);
        header[8] = 8;
        header[9] = colour;
        WriteChunk(output, "IHDR", header);
        WriteChunk(output, "IDAT", compressed.ToArray());
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    private static (int Width, int Height, int Channels) ReadHeader(ReadOnlySpan<byte> h)
    {
        if (h.Length != 13)
        {
            throw new PngFormatException($"IHDR is {h.Length} bytes, expected 13");
        }

        var width = BinaryPrimitives.ReadUInt32BigEndian(h);
        var height = BinaryPrimitives.ReadUInt32BigEndian(h[4..]);
        if (width == 0 || height == 0 || width > MaxSide || height > MaxSide)
        {
            throw new PngFormatException($"size {width}x{height} is outside 1..{MaxSide}");
        }

        var depth = h[8];
        var colour = h[9];
        var channels = colour switch
        {
            0 => 1,
            4 => 2,
            2 => 3,
            6 => 4,
            3 => throw new PngFormatException("palette PNGs are not supported: save as 8-bit gray, RGB or RGBA"),
            _ => throw new PngFormatException($"unknown colour type {colour}"),
        };
        if (depth != 8)
        {
            throw new PngFormatException($"bit depth {depth} is not supported: save as 8 bits per channel");
        }

        if (h[10] != 0 || h[11] != 0)
        {
            throw new PngFormatException($"unknown compression method {h[10]} or filter method {h[11]}");
        }

        if (h[12] != 0)
        {
            throw new PngFormatException("interlaced (Adam7) PNGs are not supported: save without interlacing");
        }

        return ((int)width, (int)height, channels);
    }

    private static void Unfilter(byte[] raw, byte[] pixels, int width, int height, int bpp)
    {
        var stride = width * bpp;
        for (var y = 0; y < height; y++)
        {
            var filter = raw[y * (stride + 1)];
            var src = raw.AsSpan(y * (stride + 1) + 1, stride);
            var row = pixels.AsSpan(y * stride, stride);
            var prior = y > 0 ? pixels.AsSpan((y - 1) * stride, stride) : Span<byte>.Empty;
            for (var x = 0; x < stride; x++)
            {
                int a = x >= bpp ? row[x - bpp] : 0;
                int b = y > 0 ? prior[x] : 0;
                int c = x >= bpp && y > 0 ? prior[x - bpp] : 0;
                row[x] = filter switch
                {
                    0 => src[x],
                    1 => (byte)(src[x] + a),
                    2 => (byte)(src[x] + b),
                    3 => (byte)(src[x] + ((a + b) >> 1)),
                    4 => (byte)(src[x] + Paeth(a, b, c)),
                    _ => throw new PngFormatException($"row {y} has unknown filter type {filter}"),
                };
            }
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        var pa = Math.Abs(p - a);
        var pb = Math.Abs(p - b);
        var pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        output.Write(typeBytes);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Update(Crc32.Update(0, typeBytes), data));
        output.Write(word);
    }
}
