using System.Buffers.Binary;
using System.IO.Compression;

namespace RMTC.Farm.Core.Datasets.Import;

/// <summary>
/// An IDX file (the MNIST family's format) of unsigned bytes: a big-endian header (two zero bytes, type code 0x08,
/// dimension count, then each dimension as a u32) followed by the values, row-major. Gzipped files are read as is.
/// </summary>
public sealed class IdxFile
{
    /// <summary>Type code of unsigned bytes, the only element type the MNIST family uses.</summary>
    public const byte UnsignedByte = 0x08;

    /// <summary>Sizes of the dimensions, outermost (the item count) first.</summary>
    public required int[] Dimensions { get; init; }

    /// <summary>The values, row-major.</summary>
    public required byte[] Data { get; init; }

    /// <summary>Number of items (the first dimension).</summary>
    public int Count => Dimensions[0];

    /// <summary>Reads <paramref name="path"/> (gzipped when it starts with the gzip magic). Throws <see cref="DatasetException"/> naming the file and the fault.</summary>
    public static IdxFile Read(string path, int expectedDimensions)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
            if (bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
            {
                using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                gzip.CopyTo(plain);
                bytes = plain.ToArray();
            }
        }
        catch (InvalidDataException e)
        {
            throw new DatasetException($"{path}: the gzip stream is damaged ({e.Message}); download or unpack it again");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"cannot read {path}: {e.Message}");
        }

        return Parse(bytes, path, expectedDimensions);
    }

    /// <summary>Parses the bytes of an uncompressed IDX file; <paramref name="source"/> names it in errors.</summary>
    public static IdxFile Parse(byte[] bytes, string source, int expectedDimensions)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < 4)
        {
            throw new DatasetException($"{source}: {bytes.Length} bytes is too short for an IDX file (4-byte magic number, then dimensions)");
        }

        var kind = expectedDimensions == 1 ? "labels (idx1)" : $"images (idx{expectedDimensions})";
        var magic = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        if (bytes[0] != 0 || bytes[1] != 0 || bytes[2] != UnsignedByte || bytes[3] != expectedDimensions)
        {
            throw new DatasetException(
                $"{source}: wrong magic number 0x{magic:x8}: expected 0x{(uint)(UnsignedByte << 8 | expectedDimensions):x8} for unsigned-byte {kind}; is it the right file (images vs labels)?");
        }

        var header = 4 + 4 * expectedDimensions;
        if (bytes.Length < header)
        {
            throw new DatasetException($"{source}: truncated header: {bytes.Length} bytes, the {expectedDimensions} dimension sizes need {header}");
        }

        var dims = new int[expectedDimensions];
        long expected = 1;
        for (var i = 0; i < dims.Length; i++)
        {
            var d = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (d == 0 || d > int.MaxValue)
            {
                throw new DatasetException($"{source}: dimension {i} has size {d}; every size must be at least 1");
            }

            dims[i] = (int)d;
            expected *= d;
            if (expected > int.MaxValue)
            {
                throw new DatasetException($"{source}: dimensions [{string.Join(", ", dims.Take(i + 1))}] hold more than 2^31 values");
            }
        }

        var actual = bytes.Length - header;
        if (actual < expected)
        {
            throw new DatasetException(
                $"{source}: truncated: dimensions [{string.Join(", ", dims)}] need {expected} data bytes, the file has {actual}; the download is incomplete");
        }

        if (actual > expected)
        {
            throw new DatasetException(
                $"{source}: {actual - expected} bytes after the data that dimensions [{string.Join(", ", dims)}] describe; the file is not an IDX file of this shape");
        }

        return new IdxFile { Dimensions = dims, Data = bytes.AsSpan(header).ToArray() };
    }
}
