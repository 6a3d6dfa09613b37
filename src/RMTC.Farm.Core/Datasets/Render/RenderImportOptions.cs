namespace RMTC.Farm.Core.Datasets.Render;

/// <summary>How <c>rmtc dataset import exr</c> cuts render pairs into training patches.</summary>
public sealed record RenderImportOptions
{
    /// <summary>Input channel groups, comma-separated (e.g. <c>Combined.RGB,Denoising Albedo.RGB,Denoising Normal.XYZ</c>); null for <see cref="RenderChannels.DefaultInput"/>.</summary>
    public string? Input { get; init; }
    /// <summary>Target channel groups; null for the beauty (<see cref="RenderChannels.DefaultTarget"/>).</summary>
    public string? Target { get; init; }
    /// <summary>Patch side in pixels.</summary>
    public int Patch { get; init; } = 64;
    /// <summary>Step between patch origins (at most <see cref="Patch"/>).</summary>
    public int Stride { get; init; } = 48;
    /// <summary><c>frame</c> or <c>scene</c> to draw held-out frames by (with <see cref="Holdout"/>); null for the source's train/ and test/ folders, or none.</summary>
    public string? SplitBy { get; init; }
    /// <summary>Fraction of frames (or scenes) held out as the test split, 0 to 0.9; 0 for none.</summary>
    public double Holdout { get; init; }

    /// <summary>Throws <see cref="DatasetException"/> naming the option at fault.</summary>
    public void Validate()
    {
        if (Patch is < 4 or > 4096)
        {
            throw new DatasetException($"--patch {Patch} is outside 4..4096 pixels (64 is usual for denoisers)");
        }

        if (Stride < 1 || Stride > Patch)
        {
            throw new DatasetException($"--stride {Stride} must be 1..{Patch} (the patch size): a larger stride leaves pixels that no patch sees");
        }

        if (Holdout is < 0 or > 0.9 || double.IsNaN(Holdout))
        {
            throw new DatasetException($"--holdout {Holdout} must be a fraction from 0 to 0.9 (e.g. 0.2 holds out a fifth of the {(SplitBy ?? "frame")}s)");
        }

        if (SplitBy is not (null or RenderSplits.Frame or RenderSplits.Scene))
        {
            throw new DatasetException($"--split-by '{SplitBy}': use frame or scene");
        }

        if (Holdout > 0 && SplitBy is null)
        {
            throw new DatasetException($"--holdout {Holdout} needs --split-by frame or --split-by scene (scene keeps every frame of a held-out scene out of training)");
        }

        if (SplitBy is not null && Holdout == 0)
        {
            throw new DatasetException($"--split-by {SplitBy} needs --holdout FRACTION, e.g. --holdout 0.2");
        }
    }
}
