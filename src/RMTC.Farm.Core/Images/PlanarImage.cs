namespace RMTC.Farm.Core.Images;

/// <summary>A decoded image: samples as floats in [0, 1], planar [channels, height, width] like a model input.</summary>
/// <param name="Width">Pixels per row.</param>
/// <param name="Height">Rows.</param>
/// <param name="Channels">1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA).</param>
/// <param name="Planes">Channels × height × width floats, channel-major.</param>
public sealed record PlanarImage(int Width, int Height, int Channels, float[] Planes);
