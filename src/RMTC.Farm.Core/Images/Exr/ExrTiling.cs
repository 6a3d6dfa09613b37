namespace RMTC.Farm.Core.Images.Exr;

/// <summary>Tile size of a tiled part (one resolution level; mip and rip levels beyond the first are not read).</summary>
public sealed record ExrTiling(int TileWidth, int TileHeight);
