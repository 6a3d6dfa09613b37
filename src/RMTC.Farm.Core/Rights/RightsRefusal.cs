using RMTC.Farm.Core.Datasets;

namespace RMTC.Farm.Core.Rights;

/// <summary>Why some of a dataset's data may not be trained on: one assertion of one asset (or of every asset).</summary>
/// <param name="Asset">The asset whose own override refuses; null when the dataset-level value is the cause.</param>
/// <param name="Label">The <c>cawg.*</c> assertion.</param>
/// <param name="Value">The asset's value for it; null when nothing declares it.</param>
/// <param name="Inheriting">For a dataset-level cause: how many assets take that value (the rest override it).</param>
public sealed record RightsRefusal(DatasetAsset? Asset, string Label, RightsAssertion? Value, int Inheriting = 0);
