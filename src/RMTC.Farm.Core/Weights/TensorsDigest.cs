using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace RMTC.Farm.Core.Weights;

/// <summary>
/// The digest of a model's tensors alone: names, dtypes, shapes and bytes, in name order. The file digest also covers the
/// safetensors metadata (run id, round, input) and the tensor order, so two runs that train the very same weights have
/// different file digests; their tensors digests are equal.
/// </summary>
/// <remarks>
/// SHA-256 over <c>"rmtc-tensors-v1\n"</c>, then for each tensor in ordinal name order: the name (UTF-8) and the dtype
/// as in the safetensors header (e.g. <c>F32</c>), each as a little-endian u32 length and its bytes; the rank as u32
/// and each dimension as i64; the data's length as u64 and the data (little-endian, row-major, as stored).
/// </remarks>
public static class TensorsDigest
{
    private static readonly byte[] Prefix = "rmtc-tensors-v1\n"u8.ToArray();
    private const int BufferSize = 1 << 20;

    /// <summary>The tensors digest of tensors in memory (lowercase sha256 hex).</summary>
    public static string Of(IReadOnlyList<NamedTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Prefix);
        foreach (var t in tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            AppendHead(hash, t.Name, t.DType, t.Shape, t.Data.LongLength);
            hash.AppendData(t.Data);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The tensors digest of a safetensors file, streamed (never loaded whole).</summary>
    /// <exception cref="SafetensorsFormatException">The file is not valid safetensors.</exception>
    public static string OfFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        var header = Safetensors.ReadHeader(file, file.Length);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Prefix);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            foreach (var t in header.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                AppendHead(hash, t.Name, t.DType, t.Shape, t.ByteLength);
                file.Position = header.DataStart + t.Begin;
                for (var left = t.ByteLength; left > 0;)
                {
                    var n = file.Read(buffer, 0, (int)Math.Min(BufferSize, left));
                    if (n == 0)
                    {
                        throw new SafetensorsFormatException($"{path}: tensor '{t.Name}' runs past the end of the file");
                    }

                    hash.AppendData(buffer, 0, n);
                    left -= n;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void AppendHead(IncrementalHash hash, string name, TensorDType dtype, long[] shape, long bytes)
    {
        AppendText(hash, name);
        AppendText(hash, dtype.ToHeaderString());
        Span<byte> number = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(number, (uint)shape.Length);
        hash.AppendData(number[..4]);
        foreach (var dim in shape)
        {
            BinaryPrimitives.WriteInt64LittleEndian(number, dim);
            hash.AppendData(number);
        }

        BinaryPrimitives.WriteUInt64LittleEndian(number, (ulong)bytes);
        hash.AppendData(number);
    }

    private static void AppendText(IncrementalHash hash, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)bytes.Length);
        hash.AppendData(length);
        hash.AppendData(bytes);
    }
}
