namespace RMTC.Farm.Core.Datasets;

/// <summary>A dataset directory cannot be used; the message names the file or field and the fix.</summary>
public sealed class DatasetException(string message) : Exception(message);
