using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace RMTC.Farm.Inference.Images;

/// <summary>
/// A small PNG codec over <see cref="ZLibStream"/>: reads non-interlaced 8- and 16-bit grey, grey+alpha, RGB and RGBA
/// (every filter type), writes 8-bit grey or RGB. Enough for model inputs and outputs without a native imaging library.
/// </summary>
public static class PngCodec
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];
    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>Decodes a PNG file; throws <see cref="InvalidDataException"/> naming what is unsupported or broken.</summary>
    public static PngImage Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return Decode(bytes, path);
    }

    /// <summary>Decodes PNG bytes (<paramref name="source"/> names them in errors).</summary>
    public static PngImage Decode(ReadOnlySpan<byte> png, string source = "image")
    {
        if (png.Length < 8 || !png[..8].SequenceEqual(Signature))
        {
            throw new InvalidDataException($"{source} is not a PNG file (signature missing)");
        }

        int width = 0, height = 0, depth = 0, colour = -1;
        using var idat = new MemoryStream();
        var pos = 8;
        var ended = false;
        while (!ended)
        {
            if (pos + 12 > png.Length)
            {
                throw new InvalidDataException($"{source}: truncated PNG (no IEND chunk)");
            }

            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(png[pos..]);
            if (length < 0 || pos + 12 + length > png.Length)
            {
                throw new InvalidDataException($"{source}: chunk at byte {pos} runs past the end of the file");
            }

            var type = Encoding.ASCII.GetString(png.Slice(pos + 4, 4));
            var data = png.Slice(pos + 8, length);
            switch (type)
            {
                case "IHDR":
                    width = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
                    height = (int)BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
                    depth = data[8];
                    colour = data[9];
                    if (data[12] != 0)
                    {
                        throw new InvalidDataException($"{source}: interlaced PNG is not supported; save it without interlacing");
                    }

                    break;
                case "PLTE" when colour == 3:
                    throw new InvalidDataException($"{source}: palette PNG is not supported; save it as RGB");
                case "IDAT":
                    idat.Write(data);
                    break;
                case "IEND":
                    ended = true;
                    break;
            }

            pos += 12 + length;
        }

        var channels = colour switch
        {
            0 => 1,
            2 => 3,
            4 => 2,
            6 => 4,
            _ => throw new InvalidDataException($"{source}: PNG colour type {colour} is not supported (grey, grey+alpha, RGB or RGBA)"),
        };
        if (depth is not (8 or 16) || width <= 0 || height <= 0)
        {
            throw new InvalidDataException($"{source}: {depth}-bit {width}x{height} PNG is not supported (8 or 16 bits per sample)");
        }

        var bytesPerPixel = channels * depth / 8;
        var stride = width * bytesPerPixel;
        var raw = new byte[(long)height * (stride + 1)];
        idat.Position = 0;
        using (var z = new ZLibStream(idat, CompressionMode.Decompress))
        {
            try
            {
                z.ReadExactly(raw);
            }
            catch (EndOfStreamException e)
            {
                throw new InvalidDataException($"{source}: image data is shorter than {width}x{height} pixels", e);
            }
        }

        var pixels = Unfilter(raw, height, stride, bytesPerPixel, source);
        var planes = new float[channels * width * height];
        var plane = width * height;
        var max = depth == 8 ? 255f : 65535f;
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                for (var c = 0; c < channels; c++)
                {
                    var at = y * stride + (x * channels + c) * (depth / 8);
                    var sample = depth == 8 ? pixels[at] : (pixels[at] << 8) | pixels[at + 1];
                    planes[c * plane + y * width + x] = sample / max;
                }
            }
        }

        return new PngImage(width, height, channels, planes);
    }

    /// <summary>Writes planar floats [channels, height, width] (1 or 3 channels, clamped to [0, 1]) as an 8-bit PNG.</summary>
    public static void Write(string path, ReadOnlySpan<float> planes, int channels, int height, int width) =>
        File.WriteAllBytes(path, Encode(planes, channels, height, width));

    /// <summary>The PNG bytes of <see cref="Write"/>.</summary>
    public static byte[] Encode(ReadOnlySpan<float> planes, int channels, int height, int width)
    {
        if (channels is not (1 or 3))
        {
            throw new ArgumentException($"PNG output needs 1 (grey) or 3 (RGB) channels, the tensor has {channels}", nameof(channels));
        }

        if (planes.Length != channels * height * width)
        {
            throw new ArgumentException($"{planes.Length} values do not make a {channels}x{height}x{width} image", nameof(planes));
        }

        var stride = width * channels;
        var raw = new byte[height * (stride + 1)];
        var plane = width * height;
        for (var y = 0; y < height; y++)
        {
            // Filter type 0 (none): simple, and the output stays byte-for-byte deterministic.
            var row = y * (stride + 1);
            for (var x = 0; x < width; x++)
            {
                for (var c = 0; c < channels; c++)
                {
                    var v = planes[c * plane + y * width + x];
                    raw[row + 1 + x * channels + c] = (byte)MathF.Round(Math.Clamp(float.IsNaN(v) ? 0f : v, 0f, 1f) * 255f);
                }
            }
        }

        using var png = new MemoryStream();
        png.Write(Signature);
        var header = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)height);
        header[8] = 8;
        header[9] = (byte)(channels == 1 ? 0 : 2);
        WriteChunk(png, "IHDR", header);
        using (var compressed = new MemoryStream())
        {
            using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            {
                z.Write(raw);
            }

            WriteChunk(png, "IDAT", compressed.ToArray());
        }

        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static byte[] Unfilter(byte[] raw, int height, int stride, int bpp, string source)
    {
        var output = new byte[(long)height * stride];
        for (var y = 0; y < height; y++)
        {
            var filter = raw[y * (stride + 1)];
            var line = raw.AsSpan(y * (stride + 1) + 1, stride);
            var current = output.AsSpan(y * stride, stride);
            var previous = y > 0 ? output.AsSpan((y - 1) * stride, stride) : new byte[stride];
            for (var i = 0; i < stride; i++)
            {
                int a = i >= bpp ? current[i - bpp] : 0, b = previous[i], c = i >= bpp ? previous[i - bpp] : 0;
                current[i] = filter switch
                {
                    0 => line[i],
                    1 => (byte)(line[i] + a),
                    2 => (byte)(line[i] + b),
                    3 => (byte)(line[i] + ((a + b) >> 1)),
                    4 => (byte)(line[i] + Paeth(a, b, c)),
                    _ => throw new InvalidDataException($"{source}: row {y} has unknown PNG filter type {filter}"),
                };
            }
        }

        return output;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static void WriteChunk(Stream png, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        png.Write(word);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        png.Write(typeBytes);
        png.Write(data);
        var crc = Crc(Crc(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        png.Write(word);
    }

    private static uint Crc(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
