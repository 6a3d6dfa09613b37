namespace RMTC.Farm.Core.Training;

/// <summary>Names of the sample augmentations a spec's <c>local.augment</c> takes.</summary>
public static class SampleAugmentations
{
    /// <summary>Samples as they are (what every run did before the setting existed).</summary>
    public const string None = "none";

    /// <summary>
    /// Each mini-batch turned to one of the square's 8 orientations (identity, 3 quarter turns, and those 4 mirrored),
    /// drawn from the shard's seed, the epoch and the batch; image-pairs only (input and target turn together).
    /// </summary>
    public const string FlipRotate = "flip-rotate";

    /// <summary>Every name, for errors.</summary>
    public static readonly IReadOnlyList<string> All = [None, FlipRotate];
}
