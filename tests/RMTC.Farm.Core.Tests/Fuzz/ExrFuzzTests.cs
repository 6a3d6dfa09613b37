using System.Buffers.Binary;
using System.Text;
using RMTC.Farm.Core.Images.Exr;
using RMTC.Farm.Core.Tests.Images;
using Xunit.Abstractions;

namespace RMTC.Farm.Core.Tests.Fuzz;

/// <summary>
/// Hostile EXR files through the OpenEXRCore wrapper (imports read renders from wherever a wrangler points): an image
/// or an ExrFormatException; no crash of the native library, no other exception, no allocation a header merely claims.
/// </summary>
public sealed class ExrFuzzTests(ITestOutputHelper output) : IDisposable
{
    // The reader allows ExpansionSlack + MaxExpansion bytes of float per file byte before it allocates planes.
    private const long AllocBase = ExrFile.ExpansionSlack + (4 << 20);
    private const long AllocPerByte = ExrFile.MaxExpansion + 512;

    private static readonly ExrCompression[] Writable = [ExrCompression.None, ExrCompression.Rle, ExrCompression.Zips, ExrCompression.Zip, ExrCompression.Piz];

    private readonly string dir = TestFiles.TempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private bool Parse(FuzzInput input)
    {
        // The wrapper reads files (OpenEXRCore opens them itself), so each input goes through one.
        var path = Path.Combine(dir, "input.exr");
        File.WriteAllBytes(path, input.Bytes);
        var image = ExrFile.Read(path);
        foreach (var part in image.Parts)
        {
            Assert.All(part.Pixels!, plane => Assert.Equal(part.DataWindow.Width * part.DataWindow.Height, plane.LongLength));
        }

        return true;
    }

    /// <summary>A valid file from our writer: 1–2 parts, random windows, pixel types, lossless compression, scanlines or tiles.</summary>
    private byte[] Valid(Random r)
    {
        var parts = new List<ExrPart>();
        var display = new ExrBox(r.Next(-8, 8), r.Next(-8, 8), r.Next(8, 48), r.Next(8, 48));
        var count = r.Next(1, 3);
        for (var p = 0; p < count; p++)
        {
            int x = r.Next(-20, 20), y = r.Next(-20, 20);
            var data = new ExrBox(x, y, x + r.Next(0, 40), y + r.Next(0, 40));
            var channels = Enumerable.Range(0, r.Next(1, 5)).Select(c => new ExrChannel("L" + p + ".C" + c, (ExrPixelType)r.Next(3))).ToArray();
            parts.Add(ExrFileTests.Part(r, count == 1 ? null : "part" + p, data, display, channels, integers: true));
        }

        var path = Path.Combine(dir, "valid.exr");
        ExrFile.Write(path, new ExrImage(parts), Writable[r.Next(Writable.Length)], r.Next(2) == 0 ? null : new ExrTiling(r.Next(1, 33), r.Next(1, 33)));
        return File.ReadAllBytes(path);
    }

    /// <summary>Overwrites the value of a named header attribute with hostile numbers (the attribute stays well-formed).</summary>
    private static byte[] EditAttribute(Random r, byte[] exr)
    {
        string[] names = ["dataWindow\0box2i\0", "displayWindow\0box2i\0", "tiles\0tiledesc\0", "channels\0chlist\0", "compression\0compression\0", "lineOrder\0lineOrder\0", "chunkCount\0int\0"];
        var name = Encoding.Latin1.GetBytes(names[r.Next(names.Length)]);
        var at = exr.AsSpan().IndexOf(name);
        if (at < 0)
        {
            return exr;
        }

        var size = BinaryPrimitives.ReadInt32LittleEndian(exr.AsSpan(at + name.Length));
        var value = at + name.Length + 4;
        if (r.Next(8) == 0)
        {
            // The size word itself lies.
            int[] sizes = [0, -1, int.MaxValue, size + 1, size - 1, 1 << 20];
            BinaryPrimitives.WriteInt32LittleEndian(exr.AsSpan(at + name.Length), sizes[r.Next(sizes.Length)]);
            return exr;
        }

        int[] hostile = [0, 1, -1, 2, 7, 255, 256, 65535, 65536, 1 << 20, int.MaxValue, int.MinValue, int.MaxValue - 1, -65536];
        var edits = 1 + r.Next(3);
        for (var e = 0; e < edits && size > 0; e++)
        {
            var offset = value + r.Next(Math.Min(size, exr.Length - value));
            if (offset + 4 <= exr.Length && r.Next(2) == 0)
            {
                BinaryPrimitives.WriteInt32LittleEndian(exr.AsSpan(offset), hostile[r.Next(hostile.Length)]);
            }
            else if (offset < exr.Length)
            {
                exr[offset] = (byte)r.Next(256);
            }
        }

        return exr;
    }

    /// <summary>Overwrites entries of the chunk offset table (right after the header's terminating zero byte).</summary>
    private static byte[] EditOffsets(Random r, byte[] exr)
    {
        var first = exr.AsSpan().IndexOf("\0\0"u8);
        if (first < 0)
        {
            return exr;
        }

        // Offsets are 8-byte little-endian positions; the table sits after the header, aim somewhere near it.
        var at = Math.Min(exr.Length - 8, r.Next(first, Math.Min(exr.Length, first + 600)));
        long[] hostile = [0, 1, -1, exr.Length, exr.Length - 1, exr.Length + 1, long.MaxValue, 1L << 40, at];
        if (at >= 0)
        {
            BinaryPrimitives.WriteInt64LittleEndian(exr.AsSpan(at), hostile[r.Next(hostile.Length)]);
        }

        return exr;
    }

    private Func<Random, FuzzInput>[] Generators() =>
    [
        r => new FuzzInput(Valid(r), "valid file: random parts, windows, pixel types, lossless compression, scanlines or tiles"),
        r => new FuzzInput(EditAttribute(r, Valid(r)), "a header attribute's value or size made hostile"),
        r => new FuzzInput(EditAttribute(r, EditAttribute(r, Valid(r))), "two header attributes made hostile"),
        r => new FuzzInput(EditOffsets(r, Valid(r)), "chunk offsets made hostile"),
        r => new FuzzInput(Mutate.Bytes(r, Valid(r)), "valid file with bit flips and byte edits"),
        r =>
        {
            var exr = Valid(r);
            return new FuzzInput(exr[..r.Next(exr.Length + 1)], "valid file truncated");
        },
        r => new FuzzInput([0x76, 0x2f, 0x31, 0x01, .. Mutate.Random(r, "\0\x02\x04\x06channelsdataWindowbox2ichlist\xff")], "magic number then random bytes"),
    ];

    [Fact]
    public void Generated_exr_files_end_in_an_image_or_a_clear_ExrFormatException()
    {
        var stats = FuzzRunner.Run(output, "exr", FuzzRunner.Seed(7101), Generators(), FuzzRunner.Iterations(1500),
            Parse, e => e is ExrFormatException, AllocBase, AllocPerByte);
        Assert.True(stats.Valid > 0 && stats.Rejected > 0, $"the generators should make both valid and invalid files: {stats}");
    }

    [Fact]
    public void Every_truncation_of_a_valid_exr_ends_in_an_image_or_a_clear_ExrFormatException()
    {
        var exr = Valid(new Random(7102));
        var cuts = Enumerable.Range(0, exr.Length + 1).Select(n => new FuzzInput(exr[..n], $"cut at {n}"));
        FuzzRunner.Check(output, "exr truncations", 0, cuts, Parse, e => e is ExrFormatException, AllocBase, AllocPerByte);
    }

    [Fact]
    public void Every_byte_of_the_header_set_to_hostile_values_ends_in_an_image_or_a_clear_ExrFormatException()
    {
        var exr = Valid(new Random(7103));
        var header = Math.Min(exr.Length, 400);
        var inputs = Enumerable.Range(0, header).SelectMany(i => new byte[] { 0x00, 0x7F, 0x80, 0xFF }.Select(v =>
        {
            var copy = (byte[])exr.Clone();
            copy[i] = v;
            return new FuzzInput(copy, $"byte {i} set to {v:X2}");
        }));
        FuzzRunner.Check(output, "exr header bytes", 0, inputs, Parse, e => e is ExrFormatException, AllocBase, AllocPerByte);
    }
}
