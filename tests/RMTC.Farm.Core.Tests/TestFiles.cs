using System.Buffers.Binary;
using System.Text;

namespace RMTC.Farm.Core.Tests;

/// <summary>Builds raw safetensors bytes by hand, and temp directories.</summary>
internal static class TestFiles
{
    public static byte[] Raw(string json, int dataBytes) => Raw(Encoding.UTF8.GetBytes(json), new byte[dataBytes]);

    public static byte[] Raw(byte[] header, byte[] data, ulong? lengthOverride = null)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengthOverride ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rmtc-core-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
