using System.Buffers.Binary;
using System.Globalization;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Datasets.Render;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Recipes;
using RMTC.Farm.Core.Planning;

namespace RMTC.Farm.Training.Datasets;

/// <summary>Procedural datasets so nothing needs a download: render-like noisy/clean patches, labelled patterns.</summary>
/// <remarks>
/// <c>denoiser</c>: image-pairs, 3x32x32 RGB patches (smooth gradients, soft discs and lines, a little texture) as
/// <c>target</c>, with Monte-Carlo-like noise (brightness-dependent, partly colour-correlated, rare fireflies) as
/// <c>input</c>. <c>classifier</c>: labelled-images, 1x16x16 patterns in four classes (stripes-horizontal,
/// stripes-vertical, checker, blob) with random period, phase, tilt, contrast and noise; <c>label</c> is an I64 scalar.
/// <c>hdr-denoiser</c>: render-pairs, 32x32 HDR frames from <see cref="HdrFrameSynthesizer"/> (noisy beauty, albedo,
/// normal in; clean beauty out).
/// Sample i lives in <c>samples/NNNNNN.safetensors</c> and depends only on (seed, i), from this project's own
/// SplitMix64, so a dataset is the same bytes on every machine (and the same dataset digest).
/// </remarks>
public static class DatasetSynthesizer
{
    /// <summary>Sample shape of synthesized denoiser datasets.</summary>
    public static IReadOnlyList<int> DenoiserShape { get; } = [3, 32, 32];

    /// <summary>Sample shape of synthesized hdr-denoiser datasets (beauty, albedo, normal).</summary>
    public static IReadOnlyList<int> HdrShape { get; } = [9, 32, 32];

    /// <summary>Sample shape of synthesized classifier datasets.</summary>
    public static IReadOnlyList<int> ClassifierShape { get; } = [1, 16, 16];

    /// <summary>Class names of synthesized classifier datasets; label i names class i.</summary>
    public static IReadOnlyList<string> ClassifierClasses { get; } = ["stripes-horizontal", "stripes-vertical", "checker", "blob"];

    /// <summary>Writes a dataset for <paramref name="recipe"/> into <paramref name="outputDirectory"/> (dataset.yaml + samples/). Returns the sample count.</summary>
    /// <remarks>Refuses a directory that already holds a dataset.yaml or sample files. dataset.yaml is written last.</remarks>
    public static int Synthesize(string recipe, string outputDirectory, int samples, long seed, IProgress<int>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(samples);
        var r = RecipeCatalog.Get(recipe);
        var denoiser = r.Name == DenoiserRecipe.RecipeName;
        var hdr = r.Name == HdrDenoiserRecipe.RecipeName;
        var dir = Path.GetFullPath(outputDirectory);
        var samplesDir = Path.Combine(dir, Dataset.SamplesFolder);
        if (File.Exists(Path.Combine(dir, Dataset.DescriptorFileName))
            || (Directory.Exists(samplesDir) && Directory.EnumerateFileSystemEntries(samplesDir).Any()))
        {
            throw new DatasetException($"{dir} already holds a dataset; synthesize into a new or empty directory");
        }

        Directory.CreateDirectory(samplesDir);
        var digits = Math.Max(6, (samples - 1).ToString(CultureInfo.InvariantCulture).Length);
        var format = "D" + digits.ToString(CultureInfo.InvariantCulture);
        int written = 0;
        var reportEvery = Math.Max(1, samples / 20);

        Parallel.For(0, samples, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) }, i =>
        {
            var rng = SplitMix64.For(seed, i);
            var tensors = hdr ? HdrSample(seed, i) : denoiser ? DenoiserSample(ref rng) : ClassifierSample(ref rng);
            var path = Path.Combine(samplesDir, i.ToString(format, CultureInfo.InvariantCulture) + Dataset.SampleExtension);
            using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 16384))
            {
                Safetensors.Write(stream, tensors);
            }

            var done = Interlocked.Increment(ref written);
            if (progress is not null && (done % reportEvery == 0 || done == samples))
            {
                progress.Report(done);
            }
        });

        Dataset.WriteDescriptor(dir, new DatasetDescriptor
        {
            Name = "synth-" + r.Name,
            Version = "1",
            Description = hdr
                ? "Procedural HDR render patches: noisy linear beauty with albedo and normal in, clean beauty out."
                : denoiser
                ? "Procedural render-like RGB patches: input has Monte-Carlo-like noise, target is clean."
                : "Procedural 1-channel patterns labelled stripes-horizontal, stripes-vertical, checker or blob.",
            Licence = "CC0-1.0",
            Owner = "RMTC.Farm synthesizer",
            Consent = "procedurally generated; no people or third-party works",
            Rights = CawgAssertions.All.ToDictionary(label => label, _ => RightsAssertion.Allowed),
            Kind = r.DatasetKind,
            SampleShape = (hdr ? HdrShape : denoiser ? DenoiserShape : ClassifierShape).ToArray(),
            Classes = denoiser || hdr ? [] : ClassifierClasses.ToList(),
            Render = hdr ? new RenderPatching { Input = HdrFrameSynthesizer.InputChannels.ToList(), Target = HdrFrameSynthesizer.Beauty.ToList(), Patch = HdrShape[1], Stride = HdrShape[1] } : null,
        });
        return samples;
    }

    /// <summary>An HDR render patch (see <see cref="HdrFrameSynthesizer"/>): input [9, 32, 32], target [3, 32, 32].</summary>
    private static NamedTensor[] HdrSample(long seed, int index)
    {
        var (input, target) = HdrFrameSynthesizer.Sample(HdrShape[2], HdrShape[1], unchecked((long)SplitMix64.MixSeed(seed, index)));
        return
        [
            NamedTensor.FromFloats(DatasetKinds.InputTensor, [HdrShape[0], HdrShape[1], HdrShape[2]], input),
            NamedTensor.FromFloats(DatasetKinds.TargetTensor, [HdrFrameSynthesizer.Beauty.Count, HdrShape[1], HdrShape[2]], target),
        ];
    }

    /// <summary>A clean render-like patch (target) and its noisy Monte-Carlo-like estimate (input), 3x32x32 in [0, ~1].</summary>
    private static NamedTensor[] DenoiserSample(ref SplitMix64 rng)
    {
        const int C = 3, H = 32, W = 32, Plane = H * W;
        var clean = new float[C * Plane];
        Span<double> c0 = stackalloc double[3];
        Span<double> c1 = stackalloc double[3];
        Span<double> col = stackalloc double[3];

        // Background: a linear gradient between two colours, lit by a soft radial falloff.
        for (int c = 0; c < C; c++)
        {
            c0[c] = rng.Uniform(0.05, 0.9);
            c1[c] = rng.Uniform(0.05, 0.9);
        }

        var angle = rng.Uniform(0, 2 * Math.PI);
        var (ga, gb) = (Math.Cos(angle), Math.Sin(angle));
        var (lx, ly, lr) = (rng.Uniform(0, W), rng.Uniform(0, H), rng.Uniform(20, 60));
        for (int y = 0; y < H; y++)
        {
            for (int x = 0; x < W; x++)
            {
                var t = Math.Clamp(0.5 + ((((x - 15.5) * ga) + ((y - 15.5) * gb)) / 44.0), 0, 1);
                var d2 = ((x - lx) * (x - lx)) + ((y - ly) * (y - ly));
                var light = 0.75 + (0.25 * Math.Exp(-d2 / (lr * lr)));
                for (int c = 0; c < C; c++)
                {
                    clean[(c * Plane) + (y * W) + x] = (float)((c0[c] + ((c1[c] - c0[c]) * t)) * light);
                }
            }
        }

        // Soft discs (objects out of focus, highlights).
        var discs = 1 + rng.NextInt(3);
        for (int k = 0; k < discs; k++)
        {
            var (cx, cy, rad, soft) = (rng.Uniform(0, W), rng.Uniform(0, H), rng.Uniform(3, 11), rng.Uniform(0.6, 3));
            var opacity = rng.Uniform(0.5, 1);
            for (int c = 0; c < C; c++)
            {
                col[c] = rng.Uniform(0, 1);
            }

            for (int y = 0; y < H; y++)
            {
                for (int x = 0; x < W; x++)
                {
                    var d = Math.Sqrt(((x - cx) * (x - cx)) + ((y - cy) * (y - cy)));
                    var a = opacity / (1 + Math.Exp((d - rad) / soft));
                    for (int c = 0; c < C; c++)
                    {
                        ref var v = ref clean[(c * Plane) + (y * W) + x];
                        v = (float)(v + ((col[c] - v) * a));
                    }
                }
            }
        }

        // Soft lines (edges, wires).
        var lines = rng.NextInt(3);
        for (int k = 0; k < lines; k++)
        {
            var (px, py, th) = (rng.Uniform(0, W), rng.Uniform(0, H), rng.Uniform(0, Math.PI));
            var (nx, ny, width) = (-Math.Sin(th), Math.Cos(th), rng.Uniform(0.5, 2));
            var opacity = rng.Uniform(0.4, 0.9);
            for (int c = 0; c < C; c++)
            {
                col[c] = rng.Uniform(0, 1);
            }

            for (int y = 0; y < H; y++)
            {
                for (int x = 0; x < W; x++)
                {
                    var d = ((x - px) * nx) + ((y - py) * ny);
                    var a = opacity * Math.Exp(-(d * d) / (width * width));
                    for (int c = 0; c < C; c++)
                    {
                        ref var v = ref clean[(c * Plane) + (y * W) + x];
                        v = (float)(v + ((col[c] - v) * a));
                    }
                }
            }
        }

        // Texture: two faint sinusoids (fabric, brushed metal).
        var (f1, p1, a1) = (rng.Uniform(0.3, 1.6), rng.Uniform(0, 2 * Math.PI), rng.Uniform(0, 0.05));
        var (f2, p2, a2) = (rng.Uniform(0.3, 1.6), rng.Uniform(0, 2 * Math.PI), rng.Uniform(0, 0.05));
        var ta = rng.Uniform(0, Math.PI);
        var (tc, ts) = (Math.Cos(ta), Math.Sin(ta));
        for (int y = 0; y < H; y++)
        {
            for (int x = 0; x < W; x++)
            {
                var u = (x * tc) + (y * ts);
                var w = (-x * ts) + (y * tc);
                var tex = (a1 * Math.Sin((f1 * u) + p1)) + (a2 * Math.Sin((f2 * w) + p2));
                for (int c = 0; c < C; c++)
                {
                    ref var v = ref clean[(c * Plane) + (y * W) + x];
                    v = (float)Math.Clamp(v + tex, 0, 1);
                }
            }
        }

        // Monte-Carlo-like noise: per-patch sample count sets the level, variance grows with radiance,
        // partly shared across channels (luminance noise) plus rare fireflies. Radiance stays non-negative.
        var noisy = new float[clean.Length];
        var level = rng.Uniform(0.06, 0.2);
        for (int p = 0; p < Plane; p++)
        {
            var shared = rng.NextGaussian();
            var firefly = rng.NextDouble() < 0.002 ? rng.Uniform(0.5, 1.5) : 0;
            for (int c = 0; c < C; c++)
            {
                var v = clean[(c * Plane) + p];
                var g = (0.6 * shared) + (0.8 * rng.NextGaussian());
                noisy[(c * Plane) + p] = (float)Math.Max(0, v + (level * Math.Sqrt(v + 0.05) * g) + firefly);
            }
        }

        long[] shape = [C, H, W];
        return
        [
            NamedTensor.FromFloats(DatasetKinds.InputTensor, shape, noisy),
            NamedTensor.FromFloats(DatasetKinds.TargetTensor, shape, clean),
        ];
    }

    /// <summary>A 1x16x16 pattern of a random class, with its label.</summary>
    private static NamedTensor[] ClassifierSample(ref SplitMix64 rng)
    {
        const int H = 16, W = 16;
        var label = rng.NextInt(ClassifierClasses.Count);
        var pixels = new float[H * W];
        var background = rng.Uniform(0.25, 0.75);
        var contrast = rng.Uniform(0.25, 0.6);
        var period = rng.Uniform(3, 7);
        var phase = rng.Uniform(0, 2 * Math.PI);
        var tilt = rng.Uniform(-0.25, 0.25);
        var sharp = rng.Uniform(1, 4);
        var noise = rng.Uniform(0.03, 0.15);
        var (bx, by, bs) = (rng.Uniform(3, 13), rng.Uniform(3, 13), rng.Uniform(1.8, 4));
        var phase2 = rng.Uniform(0, 2 * Math.PI);
        var sign = rng.NextDouble() < 0.5 ? -1.0 : 1.0;
        var (tc, ts) = (Math.Cos(tilt), Math.Sin(tilt));
        var k = 2 * Math.PI / period;
        for (int y = 0; y < H; y++)
        {
            for (int x = 0; x < W; x++)
            {
                var u = (x * tc) + (y * ts);  // along-x coordinate, slightly tilted
                var w = (-x * ts) + (y * tc); // along-y coordinate, slightly tilted
                double v = label switch
                {
                    0 => Math.Tanh(sharp * Math.Sin((k * w) + phase)),
                    1 => Math.Tanh(sharp * Math.Sin((k * u) + phase)),
                    2 => Math.Tanh(sharp * 2 * Math.Sin((k * u) + phase) * Math.Sin((k * w) + phase2)),
                    _ => sign * ((2 * Math.Exp(-(((x - bx) * (x - bx)) + ((y - by) * (y - by))) / (2 * bs * bs))) - 0.5),
                };
                pixels[(y * W) + x] = (float)(background + (contrast * v) + (noise * rng.NextGaussian()));
            }
        }

        var labelBytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(labelBytes, label);
        return
        [
            NamedTensor.FromFloats(DatasetKinds.InputTensor, [1, H, W], pixels),
            new NamedTensor(DatasetKinds.LabelTensor, TensorDType.I64, [], labelBytes),
        ];
    }
}
