using System.Runtime.InteropServices;

namespace RMTC.Farm.Core.Weights;

/// <summary>One named tensor held in memory: little-endian, row-major raw bytes as safetensors stores them.</summary>
public sealed class NamedTensor
{
    /// <summary>
    /// Creates a tensor; <paramref name="data"/> must hold exactly the bytes the dtype and shape need.
    /// The shape is copied; <paramref name="data"/> is kept as is (not copied).
    /// Throws <see cref="ArgumentException"/> on a negative dimension or a data length that does not match.
    /// </summary>
    public NamedTensor(string name, TensorDType dtype, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (!TensorDTypeExtensions.IsDefined(dtype))
        {
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, $"tensor '{name}': unknown dtype");
        }

        long count = ComputeElementCount(shape, name);
        long expectedBytes;
        try
        {
            expectedBytes = checked(count * dtype.SizeInBytes());
        }
        catch (OverflowException)
        {
            throw new ArgumentException($"tensor '{name}': shape {FormatShape(shape)} is too large", nameof(shape));
        }

        if (data.LongLength != expectedBytes)
        {
            throw new ArgumentException(
                $"tensor '{name}': {dtype.ToHeaderString()} shape {FormatShape(shape)} needs {expectedBytes} bytes but data has {data.LongLength}",
                nameof(data));
        }

        Name = name;
        DType = dtype;
        Shape = (long[])shape.Clone();
        Data = data;
        ElementCount = count;
    }

    /// <summary>Creates an F32 tensor from floats (copied).</summary>
    public static NamedTensor FromFloats(string name, long[] shape, ReadOnlySpan<float> values)
    {
        var data = new byte[checked(values.Length * sizeof(float))];
        MemoryMarshal.AsBytes(values).CopyTo(data);
        return new NamedTensor(name, TensorDType.F32, shape, data);
    }

    public string Name { get; }
    public TensorDType DType { get; }
    public long[] Shape { get; }
    public byte[] Data { get; }

    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>The data viewed as float32; throws unless <see cref="DType"/> is F32.</summary>
    public Span<float> AsFloat32()
    {
        if (DType != TensorDType.F32)
        {
            throw new InvalidOperationException($"tensor '{Name}' is {DType.ToHeaderString()}, not F32");
        }

        return MemoryMarshal.Cast<byte, float>(Data.AsSpan());
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} {DType.ToHeaderString()} {FormatShape(Shape)}";

    internal static long ComputeElementCount(long[] shape, string name)
    {
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            long d = shape[i];
            if (d < 0)
            {
                throw new ArgumentException($"tensor '{name}': dimension {i} is negative ({d})", nameof(shape));
            }

            try
            {
                count = checked(count * d);
            }
            catch (OverflowException)
            {
                throw new ArgumentException($"tensor '{name}': shape {FormatShape(shape)} is too large", nameof(shape));
            }
        }

        return count;
    }

    internal static string FormatShape(ReadOnlySpan<long> shape)
    {
        if (shape.Length == 0)
        {
            return "[]";
        }

        var sb = new System.Text.StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            sb.Append(shape[i]);
        }

        return sb.Append(']').ToString();
    }
}
