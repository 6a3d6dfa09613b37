namespace RMTC.Farm.Core.Images;

/// <summary>A PNG file cannot be read; the message names the fault (and what is supported, when that is the reason).</summary>
public sealed class PngFormatException(string message) : Exception(message);
