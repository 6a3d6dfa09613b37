namespace RMTC.Farm.Core.Weights;

/// <summary>Where one tensor lives in a safetensors file: offsets relative to the start of the data section, end exclusive.</summary>
public sealed record TensorEntry(string Name, TensorDType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Bytes of this tensor's data (End − Begin).</summary>
    public long ByteLength => End - Begin;
}

/// <summary>A parsed and validated safetensors header.</summary>
public sealed class SafetensorsHeader
{
    private Dictionary<string, TensorEntry>? _byName;

    /// <summary>Tensors in file order (ascending offsets).</summary>
    public required IReadOnlyList<TensorEntry> Tensors { get; init; }

    /// <summary>The free-form <c>__metadata__</c> map (empty when absent).</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <summary>Absolute offset of the data section: 8 + header length.</summary>
    public required long DataStart { get; init; }

    /// <summary>Total bytes of the data section.</summary>
    public long DataLength
    {
        get
        {
            long max = 0;
            var tensors = Tensors;
            for (int i = 0; i < tensors.Count; i++)
            {
                if (tensors[i].End > max)
                {
                    max = tensors[i].End;
                }
            }

            return max;
        }
    }

    /// <summary>Finds a tensor by name, or null.</summary>
    public TensorEntry? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var map = _byName;
        if (map is null)
        {
            map = new Dictionary<string, TensorEntry>(Tensors.Count, StringComparer.Ordinal);
            foreach (var t in Tensors)
            {
                map.TryAdd(t.Name, t);
            }

            _byName = map;
        }

        return map.TryGetValue(name, out var entry) ? entry : null;
    }
}
