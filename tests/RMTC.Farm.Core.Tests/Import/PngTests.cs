using System.Buffers.Binary;
using System.IO.Compression;
using RMTC.Farm.Core.Images;

namespace RMTC.Farm.Core.Tests.Import;

public sealed class PngTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Encoded_images_decode_to_the_same_pixels(int channels)
    {
        var pixels = Enumerable.Range(0, 5 * 3 * channels).Select(i => (byte)(i * 37)).ToArray();
        var image = new Image8(5, 3, channels, pixels);

        var decoded = Png.Decode(Png.Encode(image));

        Assert.Equal((5, 3, channels), (decoded.Width, decoded.Height, decoded.Channels));
        Assert.Equal(pixels, decoded.Pixels);
    }

    [Fact]
    public void Every_row_filter_is_undone()
    {
        // Rows filtered with Sub, Up, Average and Paeth by hand (as other encoders write them), gray, 3 pixels wide.
        byte[][] rows = [[10, 20, 30], [15, 25, 35], [200, 100, 50], [1, 2, 3]];
        var raw = new List<byte>();
        raw.AddRange([1, 10, 10, 10]); // Sub: 10, 20, 30
        raw.AddRange([2, 5, 5, 5]); // Up: 15, 25, 35
        raw.AddRange([3, unchecked((byte)(200 - 15 / 2)), unchecked((byte)(100 - (200 + 25) / 2)), unchecked((byte)(50 - (100 + 35) / 2))]); // Average
        raw.Add(4); // Paeth
        int prevLeft = 0, prevUpLeft = 0;
        for (var x = 0; x < 3; x++)
        {
            var up = rows[2][x];
            var predictor = Paeth(prevLeft, up, prevUpLeft);
            raw.Add((byte)(rows[3][x] - predictor));
            prevLeft = rows[3][x];
            prevUpLeft = up;
        }

        var decoded = Png.Decode(Build(3, 4, 0, raw.ToArray()));

        Assert.Equal(rows.SelectMany(r => r).ToArray(), decoded.Pixels);
    }

    [Fact]
    public void Unsupported_and_damaged_files_are_named_clearly()
    {
        Assert.Contains("not a PNG", Assert.Throws<PngFormatException>(() => Png.Decode("GIF89a..."u8)).Message);
        Assert.Contains("bit depth 16", Assert.Throws<PngFormatException>(() => Png.Decode(Build(1, 1, 0, [0, 0, 0], depth: 16))).Message);
        Assert.Contains("palette", Assert.Throws<PngFormatException>(() => Png.Decode(Build(1, 1, 3, [0, 0]))).Message);
        Assert.Contains("interlaced", Assert.Throws<PngFormatException>(() => Png.Decode(Build(1, 1, 0, [0, 0], interlace: 1))).Message);

        var good = Png.Encode(new Image8(2, 2, 1, [1, 2, 3, 4]));
        Assert.Contains("truncated", Assert.Throws<PngFormatException>(() => Png.Decode(good.AsSpan(0, good.Length - 20))).Message);
        var flipped = (byte[])good.Clone();
        flipped[40] ^= 0xff;
        Assert.Contains("CRC", Assert.Throws<PngFormatException>(() => Png.Decode(flipped)).Message);
    }

    [Fact]
    public void Sixteen_bit_samples_are_kept_for_planar_reads_and_refused_for_8_bit_ones()
    {
        // Two gray pixels, big-endian 16-bit samples 0x8000 and 0xFFFF, filter 0.
        var png = Build(2, 1, 0, [0, 0x80, 0x00, 0xFF, 0xFF], depth: 16);

        var planes = Png.DecodePlanes(png);

        Assert.Equal((2, 1, 1), (planes.Width, planes.Height, planes.Channels));
        Assert.Equal([32768f / 65535f, 1f], planes.Planes);
        Assert.Contains("bit depth 16", Assert.Throws<PngFormatException>(() => Png.Decode(png)).Message);
    }

    [Fact]
    public void Empty_image_data_chunks_and_ancillary_chunks_are_read()
    {
        // Valid files other encoders write: an empty IDAT before the data, a tRNS chunk on an RGB image.
        var one = Build(1, 1, 2, [0, 10, 20, 30]);
        var ihdr = one.AsSpan(8, 25).ToArray();
        var idat = one.AsSpan(33, one.Length - 33 - 12).ToArray();
        using var file = new MemoryStream();
        file.Write(one.AsSpan(0, 8));
        file.Write(ihdr);
        Chunk(file, "tRNS", [0, 10, 0, 20, 0, 30]);
        Chunk(file, "IDAT", []);
        file.Write(idat);
        Chunk(file, "IEND", []);

        var image = Png.Decode(file.ToArray());

        Assert.Equal((1, 1, 3), (image.Width, image.Height, image.Channels));
        Assert.Equal([10, 20, 30], image.Pixels);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>A PNG from already-filtered rows, with chosen header fields (for the cases our encoder never writes).</summary>
    internal static byte[] Build(int width, int height, byte colour, byte[] filteredRows, byte depth = 8, byte interlace = 0)
    {
        using var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true))
        {
            zs.Write(filteredRows);
        }

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = depth;
        header[9] = colour;
        header[12] = interlace;
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        var word = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        s.Write(word);
        s.Write(typeBytes);
        s.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc(typeBytes.Concat(data).ToArray()));
        s.Write(word);
    }

    private static uint Crc(byte[] data)
    {
        var c = 0xffffffffu;
        foreach (var b in data)
        {
            c ^= b;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
        }

        return ~c;
    }
}
