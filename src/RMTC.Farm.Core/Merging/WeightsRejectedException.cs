namespace RMTC.Farm.Core.Merging;

/// <summary>A result's weights cannot be merged (non-finite values, wrong names, shapes or dtypes); nothing of it was merged.</summary>
public sealed class WeightsRejectedException(string message) : Exception(message);
