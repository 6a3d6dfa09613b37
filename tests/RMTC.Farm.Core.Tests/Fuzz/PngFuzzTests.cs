using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using RMTC.Farm.Core.Images;
using Xunit.Abstractions;

namespace RMTC.Farm.Core.Tests.Fuzz;

/// <summary>Hostile PNG files (image imports read them from wherever a wrangler points): an image or a PngFormatException.</summary>
public sealed class PngFuzzTests(ITestOutputHelper output)
{
    // Deflate may expand ~1032:1, so a valid small file can decode to a large image: rows and pixels are each at most
    // that bound, hence about 2 × 1032 bytes per input byte. What the header merely claims must not count.
    private const long AllocBase = 1 << 20;
    private const long AllocPerByte = 2 * 1032 + 64;

    private sealed record Chunk(string Type, byte[] Data, bool KeepCrc = false, uint Crc = 0);

    internal static bool Parse(FuzzInput input)
    {
        var image = Png.Decode(input.Bytes);
        Assert.Equal((long)image.Width * image.Height * image.Channels, image.Pixels.LongLength);
        return true;
    }

    private static byte[] Zlib(byte[] raw, CompressionLevel level = CompressionLevel.Fastest)
    {
        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, level, leaveOpen: true))
        {
            z.Write(raw);
        }

        return ms.ToArray();
    }

    private static byte[] Ihdr(uint width, uint height, byte depth = 8, byte colour = 6, byte compression = 0, byte filter = 0, byte interlace = 0)
    {
        var h = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(h, width);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(4), height);
        h[8] = depth;
        h[9] = colour;
        h[10] = compression;
        h[11] = filter;
        h[12] = interlace;
        return h;
    }

    private static int Channels(byte colour) => colour switch { 0 => 1, 4 => 2, 2 => 3, _ => 4 };

    /// <summary>A valid image as chunks: random size, colour type and row filters; IDAT split into several chunks.</summary>
    private static List<Chunk> ValidChunks(Random r)
    {
        int w = r.Next(1, 33), h = r.Next(1, 33);
        var colour = new byte[] { 0, 2, 4, 6 }[r.Next(4)];
        var stride = w * Channels(colour);
        var raw = new byte[(stride + 1) * h];
        r.NextBytes(raw);
        for (var y = 0; y < h; y++)
        {
            raw[y * (stride + 1)] = (byte)r.Next(5);
        }

        var z = Zlib(raw);
        var chunks = new List<Chunk> { new("IHDR", Ihdr((uint)w, (uint)h, colour: colour)) };
        if (r.Next(2) == 0)
        {
            chunks.Add(new Chunk("tEXt", Encoding.ASCII.GetBytes("Software\0rmtc")));
        }

        var parts = r.Next(1, 4);
        var at = 0;
        for (var p = 0; p < parts; p++)
        {
            var len = p == parts - 1 ? z.Length - at : r.Next(0, z.Length - at + 1);
            chunks.Add(new Chunk("IDAT", z[at..(at + len)]));
            at += len;
        }

        chunks.Add(new Chunk("IEND", []));
        return chunks;
    }

    private static byte[] Write(List<Chunk> chunks, bool signature = true)
    {
        using var ms = new MemoryStream();
        if (signature)
        {
            ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        }

        Span<byte> word = stackalloc byte[4];
        foreach (var c in chunks)
        {
            BinaryPrimitives.WriteUInt32BigEndian(word, (uint)c.Data.Length);
            ms.Write(word);
            var type = Encoding.Latin1.GetBytes(c.Type);
            ms.Write(type);
            ms.Write(c.Data);
            BinaryPrimitives.WriteUInt32BigEndian(word, c.KeepCrc ? c.Crc : Crc(type, c.Data));
            ms.Write(word);
        }

        return ms.ToArray();
    }

    private static uint Crc(byte[] type, byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var b in type.Concat(data))
        {
            c ^= b;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }
        }

        return ~c;
    }

    /// <summary>Chunk-level edits with the CRC recomputed, so they reach the decoder instead of stopping at the CRC check.</summary>
    private static List<Chunk> MutateChunks(Random r, List<Chunk> chunks)
    {
        var edits = 1 + r.Next(3);
        for (var e = 0; e < edits; e++)
        {
            var i = r.Next(chunks.Count);
            switch (r.Next(14))
            {
                case 0:
                    uint[] sizes = [0, 1, 31, (uint)Png.MaxSide, (uint)Png.MaxSide + 1, int.MaxValue, uint.MaxValue, 2048];
                    chunks[0] = new Chunk("IHDR", Ihdr(sizes[r.Next(sizes.Length)], sizes[r.Next(sizes.Length)], colour: new byte[] { 0, 2, 4, 6 }[r.Next(4)]));
                    break;
                case 1:
                    chunks[0] = new Chunk("IHDR", Ihdr(4, 4, depth: new byte[] { 1, 2, 4, 8, 16, 0, 255 }[r.Next(7)], colour: (byte)r.Next(8), compression: (byte)r.Next(2), filter: (byte)r.Next(2), interlace: (byte)r.Next(3)));
                    break;
                case 2:
                    chunks.RemoveAt(i);
                    break;
                case 3:
                    chunks.Insert(r.Next(chunks.Count + 1), chunks[i]);
                    break;
                case 4:
                    var j = r.Next(chunks.Count);
                    (chunks[i], chunks[j]) = (chunks[j], chunks[i]);
                    break;
                case 5:
                    chunks.Insert(r.Next(chunks.Count + 1), new Chunk(new[] { "PLTE", "ABCD", "abcd", "tRNS", "\0\0\0\0", "ÿÿÿÿ" }[r.Next(6)], new byte[r.Next(0, 64)]));
                    break;
                case 6 when chunks[i].Type == "IDAT" && chunks[i].Data.Length > 0:
                    chunks[i] = chunks[i] with { Data = Mutate.Bytes(r, chunks[i].Data) };
                    break;
                case 7:
                    // Wrong CRC kept as is.
                    chunks[i] = chunks[i] with { KeepCrc = true, Crc = (uint)r.Next() };
                    break;
                case 8:
                    // A decompression bomb, mild enough for a unit test: zeros that inflate ~1000:1 into a claimed large image.
                    var side = (uint)r.Next(64, 2048);
                    chunks.Clear();
                    chunks.Add(new Chunk("IHDR", Ihdr(side, side, colour: 0)));
                    chunks.Add(new Chunk("IDAT", Zlib(new byte[(side + 1) * side * (uint)r.Next(0, 2)], CompressionLevel.SmallestSize)));
                    chunks.Add(new Chunk("IEND", []));
                    break;
                case 9:
                    // Rows with filter types beyond 4.
                    var ihdr = chunks.FirstOrDefault(c => c.Type == "IHDR");
                    if (ihdr is { Data.Length: 13 })
                    {
                        var w = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(ihdr.Data), 64);
                        var h = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(ihdr.Data.AsSpan(4)), 64);
                        var raw = new byte[((w * Channels(ihdr.Data[9])) + 1) * h];
                        r.NextBytes(raw);
                        chunks.RemoveAll(c => c.Type == "IDAT");
                        chunks.Insert(Math.Min(1, chunks.Count), new Chunk("IDAT", Zlib(raw)));
                    }

                    break;
                case 10:
                    chunks.Insert(i, new Chunk("IDAT", Mutate.Random(r, "\0\x01\x78\x9c\xda")));
                    break;
                case 11:
                    chunks[i] = chunks[i] with { Data = chunks[i].Data[..r.Next(chunks[i].Data.Length + 1)] };
                    break;
                case 12:
                    chunks.Add(new Chunk("IDAT", new byte[r.Next(1, 32)]));
                    break;
                default:
                    chunks[i] = chunks[i] with { Data = [.. chunks[i].Data, .. new byte[r.Next(1, 8)]] };
                    break;
            }

            if (chunks.Count == 0)
            {
                chunks.Add(new Chunk("IEND", []));
            }
        }

        return chunks;
    }

    /// <summary>Replaces a chunk's length word with a lie (larger or smaller than its data), after the fact.</summary>
    private static byte[] LieAboutLength(Random r, byte[] png)
    {
        var offsets = new List<int>();
        for (var pos = 8; pos + 12 <= png.Length;)
        {
            offsets.Add(pos);
            var len = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
            pos += 12 + (int)len;
        }

        var at = offsets[r.Next(offsets.Count)];
        uint[] lies = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, (uint)r.Next(0, 100)];
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(at), lies[r.Next(lies.Length)]);
        return png;
    }

    internal static readonly Func<Random, FuzzInput>[] Generators =
    [
        r => new FuzzInput(Write(ValidChunks(r)), "valid image: random size, colour type, row filters, split IDAT"),
        r => new FuzzInput(RandomImage(r), "encoder output"),
        r => new FuzzInput(Write(MutateChunks(r, ValidChunks(r))), "chunks edited (IHDR fields, order, unknown/critical chunks, bad zlib, bombs), CRCs right"),
        r => new FuzzInput(Write(MutateChunks(r, MutateChunks(r, ValidChunks(r)))), "chunks edited twice"),
        r => new FuzzInput(LieAboutLength(r, Write(ValidChunks(r))), "a chunk's length word lies"),
        r => new FuzzInput(Mutate.Bytes(r, Write(ValidChunks(r))), "valid image with bit flips and byte edits"),
        r =>
        {
            var png = Write(ValidChunks(r));
            return new FuzzInput(png[..r.Next(png.Length + 1)], "valid image truncated");
        },
        r => new FuzzInput([.. new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, .. Mutate.Random(r, "\0\x01IHDRIDATIEND\xff")], "signature then random bytes"),
    ];

    private static byte[] RandomImage(Random r)
    {
        int w = r.Next(1, 40), h = r.Next(1, 40), c = r.Next(1, 5);
        var pixels = new byte[w * h * c];
        r.NextBytes(pixels);
        return Png.Encode(new Image8(w, h, c, pixels));
    }

    [Fact]
    public void Generated_pngs_end_in_an_image_or_a_clear_PngFormatException()
    {
        var stats = FuzzRunner.Run(output, "png", FuzzRunner.Seed(6008), Generators, FuzzRunner.Iterations(5000),
            Parse, e => e is PngFormatException, AllocBase, AllocPerByte);
        Assert.True(stats.Valid > 0 && stats.Rejected > 0, $"the generators should make both valid and invalid images: {stats}");
    }

    [Fact]
    public void Every_truncation_and_every_bit_flip_of_a_valid_png_ends_in_an_image_or_a_clear_PngFormatException()
    {
        var png = Write(ValidChunks(new Random(6009)));
        var cuts = Enumerable.Range(0, png.Length + 1).Select(n => new FuzzInput(png[..n], $"cut at {n}"));
        var flips = Enumerable.Range(0, png.Length * 8).Select(bit =>
        {
            var copy = (byte[])png.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            return new FuzzInput(copy, $"bit {bit} flipped");
        });
        FuzzRunner.Check(output, "png truncations and bit flips", 0, cuts.Concat(flips), Parse, e => e is PngFormatException, AllocBase, AllocPerByte);
    }

    [Theory]
    [InlineData(32768u, 32768u, 6, "32768x32768 with 4 channels is too large to decode")]
    [InlineData(16384u, 16384u, 0, "cannot hold 16384x16384 with 1 channels; the file is truncated or its IHDR size is wrong")]
    [InlineData(20000u, 100u, 0, "image data is short")]
    public void A_header_claiming_gigabytes_is_refused_before_allocating_them(uint width, uint height, byte colour, string expected)
    {
        // Found by fuzzing: a 60-byte file with IHDR 32768x32768 RGBA threw OverflowException, and 16384x16384 gray
        // allocated 256 MiB for its rows before finding the data short.
        var png = Write([new Chunk("IHDR", Ihdr(width, height, colour: colour)), new Chunk("IDAT", Zlib([0, 0])), new Chunk("IEND", [])]);
        var error = Assert.Throws<PngFormatException>(() => Png.Decode(png));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        FuzzRunner.Check(output, "png huge claim", 0, [new FuzzInput(png, "huge claim")], Parse, e => e is PngFormatException, 256 << 10, 0);
    }

    [Fact]
    public void Image_data_that_asks_for_a_preset_dictionary_is_a_format_error_not_a_ZLibException()
    {
        // Found by fuzzing (seed 777, input 29490): zlib header 78 F9 sets FDICT; zlib answers "need dictionary",
        // which .NET throws as ZLibException (an IOException), not InvalidDataException.
        var png = Write([new Chunk("IHDR", Ihdr(1, 1, colour: 0)), new Chunk("IDAT", [0x78, 0xF9, 0, 0, 0, 1, 0x63, 0, 0]), new Chunk("IEND", [])]);
        var error = Assert.Throws<PngFormatException>(() => Png.Decode(png));
        Assert.Contains("image data is damaged or short for 1x1 with 1 channels", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_image_written_from_the_model_is_decoded()
    {
        // Hardening must not refuse valid input: any size, colour type, row filters and IDAT split, and the encoder's output.
        for (var i = 0; i < 300; i++)
        {
            Assert.True(Parse(Generators[0](new Random(i))));
            Assert.True(Parse(Generators[1](new Random(i))));
        }
    }
}
