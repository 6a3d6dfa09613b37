namespace RMTC.Farm.Core.Digests;

/// <summary>Content digests as lowercase sha256 hex (64 chars), the identity of every artifact and asset.</summary>
public static class Sha256Digest
{
    public static string OfFile(string path) => throw new NotImplementedException();
    public static string OfBytes(ReadOnlySpan<byte> data) => throw new NotImplementedException();
    /// <summary>True when <paramref name="value"/> is 64 lowercase hex chars.</summary>
    public static bool IsValid(string? value) => throw new NotImplementedException();
}
