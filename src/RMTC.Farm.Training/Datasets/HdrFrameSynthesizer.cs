using RMTC.Farm.Core.Images.Exr;
using RMTC.Farm.Core.Planning;

namespace RMTC.Farm.Training.Datasets;

/// <summary>
/// Procedural HDR frames shaped like a path tracer's output with its denoising passes, so the HDR denoiser can be
/// trained, tested and timed without a renderer: linear beauty (a lit gradient backdrop, diffuse discs and boxes, an
/// emitter up to ~50), albedo, normals and depth, clean and with Monte-Carlo-like noise (log-normal, unbiased, with rare
/// fireflies). Channel names follow Blender's multilayer EXR (<see cref="BlenderChannels"/>).
/// </summary>
public static class HdrFrameSynthesizer
{
    private const string Layer = "ViewLayer.";

    /// <summary>Beauty RGB, the target channels of an HDR denoiser.</summary>
    public static IReadOnlyList<string> Beauty { get; } = [Layer + "Combined.R", Layer + "Combined.G", Layer + "Combined.B"];

    /// <summary>Beauty RGB, albedo RGB and normal XYZ: the input channels of an HDR denoiser, in tensor order.</summary>
    public static IReadOnlyList<string> InputChannels { get; } =
    [
        .. Beauty,
        Layer + "Denoising Albedo.R", Layer + "Denoising Albedo.G", Layer + "Denoising Albedo.B",
        Layer + "Denoising Normal.X", Layer + "Denoising Normal.Y", Layer + "Denoising Normal.Z",
    ];

    /// <summary>Every channel a frame holds (as Blender writes with denoising passes on): the inputs plus alpha and depth.</summary>
    public static IReadOnlyList<string> BlenderChannels { get; } = [.. InputChannels, Layer + "Combined.A", Layer + "Denoising Depth.Z"];

    /// <summary>
    /// A clean frame and its noisy estimate, <paramref name="width"/>×<paramref name="height"/>: each a map from
    /// <see cref="BlenderChannels"/> to a row-major plane. Albedo, normal, alpha and depth are the same in both (a
    /// renderer's feature passes converge fast). Same (seed, size), same values.
    /// </summary>
    public static (Dictionary<string, float[]> Clean, Dictionary<string, float[]> Noisy) Frame(int width, int height, long seed, double noise = 0.6)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        var rng = SplitMix64.For(seed, width, height);
        var n = width * height;
        var albedo = new[] { new float[n], new float[n], new float[n] };
        var normal = new[] { new float[n], new float[n], new float[n] };
        var light = new float[n];
        var depth = new float[n];
        var beauty = new[] { new float[n], new float[n], new float[n] };

        // Backdrop: an albedo gradient facing the camera, lit by a key light's soft falloff.
        Span<double> a0 = stackalloc double[3];
        Span<double> a1 = stackalloc double[3];
        for (var c = 0; c < 3; c++)
        {
            a0[c] = rng.Uniform(0.1, 0.9);
            a1[c] = rng.Uniform(0.1, 0.9);
        }

        var scale = Math.Max(width, height);
        var (lx, ly, lr, power) = (rng.Uniform(0, width), rng.Uniform(0, height), rng.Uniform(0.3, 0.8) * scale, rng.Uniform(2, 8));
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var i = (y * width) + x;
                var t = (double)y / Math.Max(1, height - 1);
                for (var c = 0; c < 3; c++)
                {
                    albedo[c][i] = (float)(a0[c] + ((a1[c] - a0[c]) * t));
                }

                normal[2][i] = 1;
                depth[i] = 10;
                var d2 = ((x - lx) * (x - lx)) + ((y - ly) * (y - ly));
                light[i] = (float)(0.05 + (power * Math.Exp(-d2 / (lr * lr))));
            }
        }

        // Diffuse spheres (normals bend at the rim, shading follows them) and flat boxes.
        var shapes = 3 + rng.NextInt(5);
        for (var k = 0; k < shapes; k++)
        {
            var (cx, cy, r) = (rng.Uniform(0, width), rng.Uniform(0, height), rng.Uniform(0.04, 0.18) * scale);
            var colour = new[] { rng.Uniform(0.05, 0.95), rng.Uniform(0.05, 0.95), rng.Uniform(0.05, 0.95) };
            var sphere = rng.NextInt(2) == 0;
            var z = (float)rng.Uniform(2, 9);
            var (sx, sy) = (rng.Uniform(-1, 1), rng.Uniform(-1, 1));
            var lit = rng.Uniform(1, 6);
            for (var y = Math.Max(0, (int)(cy - r)); y < Math.Min(height, (int)(cy + r) + 1); y++)
            {
                for (var x = Math.Max(0, (int)(cx - r)); x < Math.Min(width, (int)(cx + r) + 1); x++)
                {
                    var (dx, dy) = ((x - cx) / r, (y - cy) / r);
                    var d2 = (dx * dx) + (dy * dy);
                    if ((sphere && d2 > 1) || depth[(y * width) + x] < z)
                    {
                        continue;
                    }

                    var i = (y * width) + x;
                    var nz = sphere ? Math.Sqrt(1 - d2) : 1;
                    var (nx, ny) = sphere ? (dx, -dy) : (0.0, 0.0);
                    normal[0][i] = (float)nx;
                    normal[1][i] = (float)ny;
                    normal[2][i] = (float)nz;
                    depth[i] = z;
                    for (var c = 0; c < 3; c++)
                    {
                        albedo[c][i] = (float)colour[c];
                    }

                    light[i] = (float)(lit * Math.Max(0.05, (nx * sx) + (ny * sy) + (0.6 * nz)));
                }
            }
        }

        // One emitter: radiance far above the rest, where fireflies and tone mapping are decided.
        var (ex, ey, er) = (rng.Uniform(0, width), rng.Uniform(0, height), rng.Uniform(0.02, 0.05) * scale);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var i = (y * width) + x;
                var emitter = ((x - ex) * (x - ex)) + ((y - ey) * (y - ey)) < er * er;
                for (var c = 0; c < 3; c++)
                {
                    beauty[c][i] = emitter ? 50f : albedo[c][i] * light[i];
                }
            }
        }

        var clean = Channels(beauty, albedo, normal, depth, n);
        var noisy = Channels(beauty.Select(p => (float[])p.Clone()).ToArray(), albedo, normal, depth, n);
        var sigma = noise;
        for (var i = 0; i < n; i++)
        {
            // Log-normal with mean 1: unbiased like a Monte-Carlo estimate, never negative, heavier above than below.
            var shared = rng.NextGaussian();
            var firefly = rng.NextDouble() < 0.002 ? rng.Uniform(5, 30) : 1;
            for (var c = 0; c < 3; c++)
            {
                var g = (0.7 * shared) + (0.71 * rng.NextGaussian());
                noisy[Beauty[c]][i] = (float)(beauty[c][i] * Math.Exp((sigma * g) - (sigma * sigma / 2)) * firefly);
            }
        }

        return (clean, noisy);
    }

    /// <summary>Writes a frame's channels as a single-part EXR (float unless told, ZIP unless told), data window = display window.</summary>
    public static void WriteExr(string path, Dictionary<string, float[]> channels, int width, int height, ExrPixelType type = ExrPixelType.Float, ExrCompression compression = ExrCompression.Zip)
    {
        ArgumentNullException.ThrowIfNull(channels);
        var names = channels.Keys.Order(StringComparer.Ordinal).ToList();
        var part = new ExrPart(
            null, ExrBox.FromSize(width, height), ExrBox.FromSize(width, height),
            names.Select(name => new ExrChannel(name, type)).ToList(), compression, null, names.Select(name => channels[name]).ToList());
        ExrFile.Write(path, new ExrImage([part]));
    }

    /// <summary>
    /// One render-pairs sample: the noisy frame's <see cref="InputChannels"/> stacked [9, H, W] and the clean beauty
    /// [3, H, W], both row-major.
    /// </summary>
    public static (float[] Input, float[] Target) Sample(int width, int height, long seed)
    {
        var (clean, noisy) = Frame(width, height, seed);
        var n = width * height;
        var input = new float[InputChannels.Count * n];
        for (var c = 0; c < InputChannels.Count; c++)
        {
            noisy[InputChannels[c]].CopyTo(input, c * n);
        }

        var target = new float[Beauty.Count * n];
        for (var c = 0; c < Beauty.Count; c++)
        {
            clean[Beauty[c]].CopyTo(target, c * n);
        }

        return (input, target);
    }

    private static Dictionary<string, float[]> Channels(float[][] beauty, float[][] albedo, float[][] normal, float[] depth, int n)
    {
        var alpha = new float[n];
        Array.Fill(alpha, 1f);
        var planes = beauty.Concat(albedo).Concat(normal).Append(alpha).Append(depth).ToArray();
        var map = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (var i = 0; i < BlenderChannels.Count; i++)
        {
            map[BlenderChannels[i]] = planes[i];
        }

        return map;
    }
}
