using System.Buffers;
using System.Security.Cryptography;

namespace RMTC.Farm.Core.Digests;

/// <summary>Content digests as lowercase sha256 hex (64 chars), the identity of every artifact and asset.</summary>
public static class Sha256Digest
{
    private const int BufferSize = 1 << 20;

    /// <summary>Hashes a file, streaming it (never loaded whole).</summary>
    public static string OfFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int n;
            while ((n = fs.Read(buffer, 0, BufferSize)) > 0)
            {
                hash.AppendData(buffer, 0, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public static string OfBytes(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>True when <paramref name="value"/> is 64 lowercase hex chars.</summary>
    public static bool IsValid(string? value)
    {
        if (value is null || value.Length != 64)
        {
            return false;
        }

        foreach (char c in value)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }
}
