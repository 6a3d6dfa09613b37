namespace RMTC.Farm.Core.Weights;

/// <summary>A safetensors file is malformed; the message says what and where.</summary>
public sealed class SafetensorsFormatException(string message) : Exception(message);
