namespace RMTC.Farm.Core.Images.Exr;

/// <summary>A pixel window with inclusive corners, as EXR's data and display windows are stored (min may be negative).</summary>
public readonly record struct ExrBox(int MinX, int MinY, int MaxX, int MaxY)
{
    /// <summary>A window from (0, 0) of the given size.</summary>
    public static ExrBox FromSize(int width, int height) => new(0, 0, width - 1, height - 1);

    /// <summary>Pixels across (MaxX - MinX + 1); long because hostile headers may span the whole int range.</summary>
    public long Width => (long)MaxX - MinX + 1;

    /// <summary>Pixels down (MaxY - MinY + 1).</summary>
    public long Height => (long)MaxY - MinY + 1;

    /// <inheritdoc />
    public override string ToString() => $"({MinX},{MinY})-({MaxX},{MaxY})";
}
