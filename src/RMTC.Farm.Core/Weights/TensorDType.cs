namespace RMTC.Farm.Core.Weights;

/// <summary>Element types of safetensors, by their header spelling.</summary>
public enum TensorDType
{
    F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL,
}

/// <summary>Sizes and header spellings of <see cref="TensorDType"/>.</summary>
public static class TensorDTypeExtensions
{
    /// <summary>Bytes per element (F64 8, F32 4, F16/BF16 2, I64 8, I32 4, I16 2, I8/U8/BOOL 1).</summary>
    public static int SizeInBytes(this TensorDType dtype) => dtype switch
    {
        TensorDType.F64 => 8,
        TensorDType.F32 => 4,
        TensorDType.F16 => 2,
        TensorDType.BF16 => 2,
        TensorDType.I64 => 8,
        TensorDType.I32 => 4,
        TensorDType.I16 => 2,
        TensorDType.I8 => 1,
        TensorDType.U8 => 1,
        TensorDType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown tensor dtype"),
    };

    /// <summary>The spelling used in safetensors headers ("F32", "BF16", ...).</summary>
    public static string ToHeaderString(this TensorDType dtype) => dtype switch
    {
        TensorDType.F64 => "F64",
        TensorDType.F32 => "F32",
        TensorDType.F16 => "F16",
        TensorDType.BF16 => "BF16",
        TensorDType.I64 => "I64",
        TensorDType.I32 => "I32",
        TensorDType.I16 => "I16",
        TensorDType.I8 => "I8",
        TensorDType.U8 => "U8",
        TensorDType.BOOL => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown tensor dtype"),
    };

    /// <summary>Parses a header spelling (case-sensitive, exactly as safetensors writes it).</summary>
    public static bool TryParseHeaderString(string? text, out TensorDType dtype)
    {
        switch (text)
        {
            case "F64": dtype = TensorDType.F64; return true;
            case "F32": dtype = TensorDType.F32; return true;
            case "F16": dtype = TensorDType.F16; return true;
            case "BF16": dtype = TensorDType.BF16; return true;
            case "I64": dtype = TensorDType.I64; return true;
            case "I32": dtype = TensorDType.I32; return true;
            case "I16": dtype = TensorDType.I16; return true;
            case "I8": dtype = TensorDType.I8; return true;
            case "U8": dtype = TensorDType.U8; return true;
            case "BOOL": dtype = TensorDType.BOOL; return true;
            default: dtype = default; return false;
        }
    }

    internal static bool IsDefined(TensorDType dtype) => (uint)dtype <= (uint)TensorDType.BOOL;
}
