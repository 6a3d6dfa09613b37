namespace RMTC.Farm.Core.Weights;

/// <summary>Our own safetensors reader and writer (never pickle).</summary>
public static class Safetensors
{
    /// <summary>Reads and validates the header; <paramref name="streamLength"/> is used to check the data fits (pass stream.Length when seekable).</summary>
    public static SafetensorsHeader ReadHeader(Stream stream, long streamLength) => throw new NotImplementedException();

    /// <summary>Reads a whole file into memory.</summary>
    public static (IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadFile(string path) => throw new NotImplementedException();

    /// <summary>Writes tensors in the given order; header padded with spaces to a multiple of 8 bytes.</summary>
    public static void Write(Stream stream, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) => throw new NotImplementedException();

    /// <summary>Writes to a file atomically (temp file + rename) and returns its sha256 hex digest.</summary>
    public static string WriteFile(string path, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) => throw new NotImplementedException();
}
