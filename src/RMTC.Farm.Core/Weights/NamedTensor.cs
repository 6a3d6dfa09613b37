namespace RMTC.Farm.Core.Weights;

/// <summary>One named tensor held in memory: little-endian, row-major raw bytes as safetensors stores them.</summary>
public sealed class NamedTensor
{
    /// <summary>Creates a tensor; <paramref name="data"/> must hold exactly the bytes the dtype and shape need.</summary>
    public NamedTensor(string name, TensorDType dtype, long[] shape, byte[] data)
    {
        throw new NotImplementedException();
    }

    /// <summary>Creates an F32 tensor from floats (copied).</summary>
    public static NamedTensor FromFloats(string name, long[] shape, ReadOnlySpan<float> values) => throw new NotImplementedException();

    public string Name { get; }
    public TensorDType DType { get; }
    public long[] Shape { get; }
    public byte[] Data { get; }

    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public long ElementCount => throw new NotImplementedException();

    /// <summary>The data viewed as float32; throws unless <see cref="DType"/> is F32.</summary>
    public Span<float> AsFloat32() => throw new NotImplementedException();
}
