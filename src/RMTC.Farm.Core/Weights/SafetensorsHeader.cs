namespace RMTC.Farm.Core.Weights;

/// <summary>Where one tensor lives in a safetensors file: offsets relative to the start of the data section, end exclusive.</summary>
public sealed record TensorEntry(string Name, TensorDType DType, long[] Shape, long Begin, long End);

/// <summary>A parsed and validated safetensors header.</summary>
public sealed class SafetensorsHeader
{
    /// <summary>Tensors in file order (ascending offsets).</summary>
    public required IReadOnlyList<TensorEntry> Tensors { get; init; }

    /// <summary>The free-form <c>__metadata__</c> map (empty when absent).</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <summary>Absolute offset of the data section: 8 + header length.</summary>
    public required long DataStart { get; init; }

    /// <summary>Total bytes of the data section.</summary>
    public long DataLength => throw new NotImplementedException();

    /// <summary>Finds a tensor by name, or null.</summary>
    public TensorEntry? Find(string name) => throw new NotImplementedException();
}
