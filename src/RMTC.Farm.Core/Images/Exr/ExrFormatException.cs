namespace RMTC.Farm.Core.Images.Exr;

/// <summary>
/// An EXR file cannot be read or written: damaged, truncated, of a kind this reader does not handle (deep data,
/// subsampled channels), or larger than the limits. The message starts with the file's path and names the fault.
/// </summary>
public sealed class ExrFormatException(string path, string fault) : Exception($"{path}: {fault}")
{
    /// <summary>The file the fault is in.</summary>
    public string Path { get; } = path;

    /// <summary>The fault alone, without the path.</summary>
    public string Fault { get; } = fault;
}
