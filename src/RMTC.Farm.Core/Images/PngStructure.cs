using System.Buffers.Binary;
using System.Text;

namespace RMTC.Farm.Core.Images;

/// <summary>What a PNG's chunks say, once they have been checked: size, bit depth, channels and compressed data length.</summary>
/// <param name="Width">Pixels per row.</param>
/// <param name="Height">Rows.</param>
/// <param name="Depth">Bits per sample: 8 or 16.</param>
/// <param name="Channels">1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA).</param>
internal sealed record PngHeader(int Width, int Height, int Depth, int Channels)
{
    /// <summary>The same image as a minimal PNG: signature, IHDR, one IDAT holding all image data, IEND.</summary>
    public byte[] Canonical { get; init; } = [];
}

/// <summary>
/// The checks made on a PNG's chunk layout before the decoder (stb_image) sees it: the library reads any PNG, but
/// it neither verifies CRCs nor bounds what a header may claim, and its errors are terse. Walking the chunks here
/// keeps the refusals of the project's own messages (damaged, truncated, unsupported, absurdly large) and keeps
/// hostile headers from making the decoder allocate what the file cannot hold. Pixels are never touched here.
/// The decoder is then given a canonical copy (IHDR, one IDAT, IEND): the port refuses valid empty IDAT chunks, and
/// ancillary chunks (tRNS, text) have nothing to say to it.
/// </summary>
internal static class PngStructure
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The most a deflate stream can expand (RFC 1951: at best one 258-byte match per two bits of code).</summary>
    private const long MaxDeflateRatio = 1032;

    /// <summary>Checks <paramref name="png"/>; throws <see cref="PngFormatException"/> naming the fault.</summary>
    /// <param name="png">The whole file.</param>
    /// <param name="allow16">Whether 16-bit samples are accepted (they are for inference inputs, not for 8-bit datasets).</param>
    public static PngHeader Check(ReadOnlySpan<byte> png, bool allow16)
    {
        if (png.Length < Signature.Length || !png[..Signature.Length].SequenceEqual(Signature))
        {
            throw new PngFormatException("not a PNG file (the 8-byte PNG signature is missing)");
        }

        var pos = Signature.Length;
        PngHeader? header = null;
        var sawEnd = false;
        long idat = 0;
        var idatRanges = new List<(int Start, int Length)>();
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
                    if (header is not null)
                    {
                        throw new PngFormatException("more than one IHDR chunk: the file is damaged");
                    }

                    header = ReadHeader(data, allow16);
                    break;
                case "IDAT":
                    if (header is null)
                    {
                        throw new PngFormatException("IDAT before IHDR");
                    }

                    idat += data.Length;
                    idatRanges.Add((pos - 4 - (int)length, (int)length));
                    break;
                case "IEND":
                    sawEnd = true;
                    pos = png.Length;
                    break;
                case "PLTE":
                    throw new PngFormatException("palette PNGs are not supported: save as 8-bit gray, RGB or RGBA");
                default:
                    // Ancillary chunks (text, gamma, ...) carry nothing a sample needs; the decoder skips them too.
                    if (char.IsUpper(type[0]))
                    {
                        throw new PngFormatException($"unknown critical chunk {type}");
                    }

                    if (header is null)
                    {
                        throw new PngFormatException($"chunk {type} before IHDR: IHDR must come first");
                    }

                    break;
            }
        }

        if (header is null)
        {
            throw new PngFormatException("no IHDR chunk");
        }

        if (!sawEnd)
        {
            throw new PngFormatException("truncated: no IEND chunk");
        }

        var (width, height, channels) = (header.Width, header.Height, header.Channels);
        var rawLength = ((long)width * channels * (header.Depth / 8) + 1) * height;
        // The decoder's buffers are sized in int, with room for one output copy per conversion.
        if (rawLength > Array.MaxLength / 2)
        {
            throw new PngFormatException($"{width}x{height} with {channels} channels is too large to decode ({rawLength} bytes): split it into tiles");
        }

        // Deflate expands at most ~1032:1, so image data shorter than that bound cannot fill the rows: refuse before
        // the decoder allocates them (a 100-byte file claiming 32768x32768 would otherwise allocate 4 GiB).
        if (rawLength > (idat * MaxDeflateRatio) + 1024)
        {
            throw new PngFormatException($"image data is short: {idat} compressed bytes cannot hold {width}x{height} with {channels} channels; the file is truncated or its IHDR size is wrong");
        }

        return header with { Canonical = Canonical(png, idatRanges, idat) };
    }

    private static byte[] Canonical(ReadOnlySpan<byte> png, List<(int Start, int Length)> idatRanges, long idatLength)
    {
        const int ihdrAt = 8;
        var output = new byte[Signature.Length + 25 + 12 + idatLength + 12];
        png[..(ihdrAt + 25)].CopyTo(output);
        var at = ihdrAt + 25;
        BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(at), (uint)idatLength);
        "IDAT"u8.CopyTo(output.AsSpan(at + 4));
        var dataAt = at + 8;
        foreach (var (start, length) in idatRanges)
        {
            png.Slice(start, length).CopyTo(output.AsSpan(dataAt));
            dataAt += length;
        }

        BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(dataAt), Crc32.Update(0, output.AsSpan(at + 4, 4 + (int)idatLength)));
        BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(dataAt + 4), 0);
        "IEND"u8.CopyTo(output.AsSpan(dataAt + 8));
        BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(dataAt + 12), Crc32.Update(0, "IEND"u8));
        return output;
    }

    private static PngHeader ReadHeader(ReadOnlySpan<byte> h, bool allow16)
    {
        if (h.Length != 13)
        {
            throw new PngFormatException($"IHDR is {h.Length} bytes, expected 13");
        }

        var width = BinaryPrimitives.ReadUInt32BigEndian(h);
        var height = BinaryPrimitives.ReadUInt32BigEndian(h[4..]);
        if (width == 0 || height == 0 || width > Png.MaxSide || height > Png.MaxSide)
        {
            throw new PngFormatException($"size {width}x{height} is outside 1..{Png.MaxSide}");
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
        if (depth != 8 && !(allow16 && depth == 16))
        {
            throw new PngFormatException(allow16
                ? $"bit depth {depth} is not supported: save as 8 or 16 bits per channel"
                : $"bit depth {depth} is not supported: save as 8 bits per channel");
        }

        if (h[10] != 0 || h[11] != 0)
        {
            throw new PngFormatException($"unknown compression method {h[10]} or filter method {h[11]}");
        }

        if (h[12] != 0)
        {
            throw new PngFormatException("interlaced (Adam7) PNGs are not supported: save without interlacing");
        }

        return new PngHeader((int)width, (int)height, depth, channels);
    }
}
