namespace RMTC.Farm.Inference.Runtime;

/// <summary>
/// Runs an image-to-image model over a frame of any size in overlapping tiles and blends them, so memory stays bounded
/// by the tile, not the frame. Where tiles overlap, each tile's outermost <see cref="TileLayout.Margin"/> pixels on an
/// inner edge get no weight (their context was cut off by the tile's edge) and weights then ramp linearly to 1, the two
/// ramps summing to 1: with a margin at least the model's receptive radius the blend equals running the whole frame.
/// </summary>
public static class TiledInference
{
    /// <summary>
    /// The model's output for a planar frame <paramref name="input"/> [channels, height, width]: planar
    /// [output channels, height, width]. <paramref name="run"/> maps a [1, C, h, w] tile to [1, O, h, w].
    /// </summary>
    public static float[] Run(Func<float[], long[], (float[] Values, long[] Shape)> run, float[] input, int channels, int height, int width, TileLayout layout)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(layout);
        if (input.LongLength != (long)channels * height * width)
        {
            throw new ArgumentException($"input has {input.LongLength} values, not {channels}x{height}x{width}", nameof(input));
        }

        float[]? sum = null;
        var weights = new float[(long)height * width];
        var outChannels = 0;
        foreach (var (y0, th) in layout.Spans(height))
        {
            var wy = Ramp(y0, th, height, layout);
            foreach (var (x0, tw) in layout.Spans(width))
            {
                var wx = Ramp(x0, tw, width, layout);
                var tile = Cut(input, channels, width, x0, y0, tw, th);
                var (values, shape) = run(tile, [1, channels, th, tw]);
                if (shape.Length != 4 || shape[0] != 1 || shape[2] != th || shape[3] != tw)
                {
                    throw new InvalidDataException($"the model turned a [1, {channels}, {th}, {tw}] tile into [{string.Join(", ", shape)}]; a tiled model must keep height and width");
                }

                if (sum is null)
                {
                    outChannels = (int)shape[1];
                    sum = new float[(long)outChannels * height * width];
                }

                for (var y = 0; y < th; y++)
                {
                    for (var x = 0; x < tw; x++)
                    {
                        var w = wy[y] * wx[x];
                        if (w == 0)
                        {
                            continue;
                        }

                        var at = ((long)(y0 + y) * width) + x0 + x;
                        weights[at] += w;
                        for (var c = 0; c < outChannels; c++)
                        {
                            sum[((long)c * height * width) + at] += w * values[(((long)c * th) + y) * tw + x];
                        }
                    }
                }
            }
        }

        var plane = (long)height * width;
        for (var c = 0; c < outChannels; c++)
        {
            for (long i = 0; i < plane; i++)
            {
                sum![(c * plane) + i] /= weights[i];
            }
        }

        return sum!;
    }

    /// <summary>Weight along one axis of a tile at <paramref name="start"/> of <paramref name="size"/> in a frame of <paramref name="extent"/>.</summary>
    private static float[] Ramp(int start, int size, int extent, TileLayout layout)
    {
        var w = new float[size];
        var ramp = layout.Overlap - (2 * layout.Margin);
        for (var i = 0; i < size; i++)
        {
            // Distance to each inner edge; a frame edge is no seam, its pixels keep full weight.
            var fromStart = start == 0 ? int.MaxValue : i;
            var fromEnd = start + size == extent ? int.MaxValue : size - 1 - i;
            var d = Math.Min(fromStart, fromEnd);
            w[i] = d == int.MaxValue ? 1f : Math.Clamp((d - layout.Margin + 0.5f) / ramp, 0f, 1f);
        }

        return w;
    }

    private static float[] Cut(float[] input, int channels, int width, int x0, int y0, int tw, int th)
    {
        var height = input.Length / channels / width;
        var tile = new float[(long)channels * th * tw];
        for (var c = 0; c < channels; c++)
        {
            for (var y = 0; y < th; y++)
            {
                input.AsSpan((int)((((long)c * height) + y0 + y) * width) + x0, tw).CopyTo(tile.AsSpan((int)((((long)c * th) + y) * tw), tw));
            }
        }

        return tile;
    }
}

/// <summary>
/// How a frame is cut: tiles of at most <see cref="Tile"/> pixels a side, neighbours sharing <see cref="Overlap"/>
/// pixels, of which <see cref="Margin"/> on each side are context only.
/// </summary>
public sealed record TileLayout
{
    /// <summary>A layout; throws <see cref="ArgumentException"/> naming the setting that does not fit.</summary>
    public TileLayout(int tile = 512, int overlap = 32, int margin = 8)
    {
        if (margin < 0 || overlap <= 2 * margin)
        {
            throw new ArgumentException($"tile overlap {overlap} must exceed twice the margin {margin} (pixels of context on each side of a seam)", nameof(overlap));
        }

        if (tile <= overlap)
        {
            throw new ArgumentException($"tile size {tile} must exceed the overlap {overlap}", nameof(tile));
        }

        Tile = tile;
        Overlap = overlap;
        Margin = margin;
    }

    /// <summary>Largest tile side.</summary>
    public int Tile { get; }

    /// <summary>Pixels neighbouring tiles share.</summary>
    public int Overlap { get; }

    /// <summary>Pixels at a tile's inner edge that only give context (at least the model's receptive radius).</summary>
    public int Margin { get; }

    /// <summary>Start and length of each tile along an axis of <paramref name="extent"/> pixels: one when it fits, else evenly stepped, the last flush with the end.</summary>
    public IEnumerable<(int Start, int Length)> Spans(int extent)
    {
        if (extent <= Tile)
        {
            yield return (0, extent);
            yield break;
        }

        var step = Tile - Overlap;
        for (var start = 0; ; start += step)
        {
            if (start + Tile >= extent)
            {
                yield return (extent - Tile, Tile);
                yield break;
            }

            yield return (start, Tile);
        }
    }
}
