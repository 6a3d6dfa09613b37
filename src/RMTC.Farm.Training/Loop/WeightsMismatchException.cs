namespace RMTC.Farm.Training.Loop;

/// <summary>Weights do not fit a recipe's model (missing or unexpected names, wrong shapes or dtypes); nothing was loaded.</summary>
public sealed class WeightsMismatchException(string message) : Exception(message);
