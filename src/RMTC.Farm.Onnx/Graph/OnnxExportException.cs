namespace RMTC.Farm.Onnx.Graph;

/// <summary>A model cannot be exported as described: the message names the tensor, operator or setting at fault.</summary>
public sealed class OnnxExportException(string message) : Exception(message);
