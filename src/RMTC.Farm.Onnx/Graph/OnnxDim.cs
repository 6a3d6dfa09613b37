namespace RMTC.Farm.Onnx.Graph;

/// <summary>One dimension of a graph input or output: a fixed size, or a named dynamic one (e.g. <c>batch</c>).</summary>
public readonly record struct OnnxDim(long Value, string? Param)
{
    /// <summary>A fixed size.</summary>
    public static OnnxDim Fixed(long value) =>
        value > 0 ? new(value, null) : throw new ArgumentOutOfRangeException(nameof(value), value, "a fixed dimension must be positive");

    /// <summary>A dynamic size, named so tools show which dimensions vary together.</summary>
    public static OnnxDim Dynamic(string name) => new(0, name);

    /// <summary>True when the size is given at run time.</summary>
    public bool IsDynamic => Param is not null;

    /// <inheritdoc />
    public override string ToString() => Param ?? Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
