namespace RMTC.Farm.Core.Images.Exr;

/// <summary>An EXR file's content: one part for a plain file, several for a multi-part one.</summary>
public sealed class ExrImage(IReadOnlyList<ExrPart> parts)
{
    /// <summary>The parts in file order.</summary>
    public IReadOnlyList<ExrPart> Parts { get; } = parts;

    /// <summary>The part named <paramref name="name"/>; KeyNotFoundException lists the names there are.</summary>
    public ExrPart Part(string name) =>
        Parts.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal))
        ?? throw new KeyNotFoundException($"no part named '{name}'; the parts are {string.Join(", ", Parts.Select(p => p.Name ?? "(unnamed)"))}");
}
