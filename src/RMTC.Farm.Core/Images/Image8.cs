namespace RMTC.Farm.Core.Images;

/// <summary>An 8-bit image in memory: rows top to bottom, pixels left to right, channels interleaved (gray, gray+alpha, RGB or RGBA).</summary>
public sealed record Image8(int Width, int Height, int Channels, byte[] Pixels)
{
    /// <summary>Channel value at (x, y, c).</summary>
    public byte this[int x, int y, int c] => Pixels[((y * Width) + x) * Channels + c];
}
