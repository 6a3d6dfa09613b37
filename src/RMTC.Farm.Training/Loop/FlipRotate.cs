using RMTC.Farm.Core.Planning;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Loop;

/// <summary>
/// <c>local.augment: flip-rotate</c>: each mini-batch of image pairs seen in one of the square's 8 orientations, input
/// and target alike. A render has no preferred up or handedness (light, shapes and camera are drawn at random), so
/// every orientation is as likely a frame as the one rendered, and a small set of training frames counts eight times.
/// </summary>
/// <remarks>
/// The orientation is a pure function of (shard seed, epoch, batch), drawn from a SplitMix64 stream of its own (apart
/// from the epoch's shuffle), so a run replays exactly from its manifest's seeds, a resumed shard turns its remaining
/// batches as the first attempt would have, and no state crosses batches. One orientation per batch, not per sample:
/// a batch stays one tensor operation.
/// </remarks>
internal static class FlipRotate
{
    /// <summary>Keeps the orientation stream apart from the shuffle stream drawn from the same (seed, epoch).</summary>
    private const long Stream = 0x666C6970; // "flip"

    /// <summary>The orientation (0..7) of a batch: quarter turns in the low two bits, mirrored when 4 or more.</summary>
    public static int Orientation(long seed, int epoch, int batch) =>
        (int)SplitMix64.For(seed, Stream, epoch, batch).NextBelow(8);

    /// <summary>
    /// <paramref name="images"/> [N, C, H, W] in <paramref name="orientation"/>: mirrored left to right when it is 4 or
    /// more, then turned by (orientation mod 4) quarter turns. 0 returns <paramref name="images"/> itself.
    /// </summary>
    public static Tensor Apply(Tensor images, int orientation)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfNegative(orientation);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(orientation, 7);
        if (images.dim() != 4)
        {
            throw new ArgumentException($"flip-rotate turns images [N, C, H, W], got a tensor of {images.dim()} dimensions", nameof(images));
        }

        var mirrored = orientation >= 4 ? images.flip(3) : images;
        var turns = orientation & 3;
        return turns == 0 ? mirrored : mirrored.rot90(turns, (2, 3));
    }
}
