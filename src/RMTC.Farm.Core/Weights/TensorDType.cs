namespace RMTC.Farm.Core.Weights;

/// <summary>Element types of safetensors, by their header spelling.</summary>
public enum TensorDType
{
    F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL,
}
