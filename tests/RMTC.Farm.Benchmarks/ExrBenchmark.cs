using System.Diagnostics;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Images.Exr;
using RMTC.Farm.Inference.Runtime;
using RMTC.Farm.Onnx.Export;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// The HDR denoiser's costs: `rmtc infer`'s work on a 1920x1080 EXR frame (read by channel name, tiled ONNX Runtime
/// inference on the CPU, write with the header kept), against one untiled run of the whole frame; and its training step
/// time (TorchSharp, forward + backward + Adam) against the 3-channel denoiser's on the same patches.
/// </summary>
internal static class ExrBenchmark
{
    public static void Run(ResultTable table, int iterations)
    {
        var threads = Environment.ProcessorCount;
        TorchSharp.torch.set_num_threads(threads);
        var dir = Path.Combine(Path.GetTempPath(), "rmtc-exr-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            Inference(table, dir, iterations, threads);
            Training(table, dir);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Inference(ResultTable table, string dir, int iterations, int threads)
    {
        const int width = 1920, height = 1080;
        var (_, noisy) = HdrFrameSynthesizer.Frame(width, height, 1);
        var frame = Path.Combine(dir, "frame.exr");
        HdrFrameSynthesizer.WriteExr(frame, noisy, width, height, ExrPixelType.Half);
        var weights = RecipeCatalog.CreateInitialWeights("hdr-denoiser", [9, 32, 32], 0, seed: 1);
        var provenance = new OnnxProvenance
        {
            RunId = "bench",
            ModelDigest = new string('0', 64),
            Recipe = "hdr-denoiser",
            SampleShape = [9, 32, 32],
            InputChannels = HdrFrameSynthesizer.InputChannels.ToList(),
            TargetChannels = HdrFrameSynthesizer.Beauty.ToList(),
        };
        using var session = new OnnxModelSession(OnnxExporter.Export(weights, provenance), cpuOnly: true, threads: threads);
        var layout = new TileLayout();
        Console.WriteLine($"exr: {width}x{height} frame, hdr-denoiser, ONNX Runtime CPU, {threads} threads, tiles of {layout.Tile} overlapping {layout.Overlap}; median of {iterations}");

        var read = Median(iterations, () => ExrFrame.Read(frame, provenance.InputChannels, provenance.TargetChannels));
        var input = ExrFrame.Read(frame, provenance.InputChannels, provenance.TargetChannels);
        float[] output = [];
        var tiled = Median(iterations, () => output = TiledInference.Run(session.Run, input.Values, 9, height, width, layout));
        var whole = Median(iterations, () => session.Run(input.Values, [1, 9, height, width]));
        var write = Median(iterations, () => ExrFile.Write(Path.Combine(dir, "out.exr"), input.WithOutput(output, [ExrAttribute.String("rmtc.run_id", "bench")], out _)));
        Console.WriteLine($"exr: read {read:F0} ms, tiled inference {tiled:F0} ms, whole frame in one run {whole:F0} ms, write {write:F0} ms; total {read + tiled + write:F0} ms");
        table.Add($"hdr-denoiser {width}x{height} EXR, tiled inference p50", tiled, "ms", whole, "one untiled run of the frame", "report (ratio < 1: tiling costs)", higherIsBetter: false);
        table.Add($"hdr-denoiser {width}x{height} EXR, read + infer + write p50", read + tiled + write, "ms", tiled, "tiled inference alone", "report", higherIsBetter: false);
    }

    private static void Training(ResultTable table, string dir)
    {
        const int samples = 256, batch = 16, epochs = 2;
        var steps = epochs * (samples / batch);
        var perStep = new Dictionary<string, double>();
        foreach (var recipe in new[] { "hdr-denoiser", "denoiser" })
        {
            var data = Path.Combine(dir, recipe);
            DatasetSynthesizer.Synthesize(recipe, data, samples, 7);
            var descriptor = Dataset.ReadDescriptor(data);
            var request = new LocalTrainingRequest
            {
                Recipe = recipe,
                DatasetPath = data,
                TrainIndices = [.. Enumerable.Range(0, samples)],
                InitialWeights = RecipeCatalog.CreateInitialWeights(recipe, descriptor.SampleShape, 0, 3),
                EpochsPerRound = epochs,
                BatchSize = batch,
                Device = "cpu",
            };
            double seconds = 0;
            LocalTrainer.Run(request, new RoundReports(r => seconds = r.Seconds), CancellationToken.None);
            perStep[recipe] = 1000 * seconds / steps;
            Console.WriteLine($"exr: {recipe} training step (batch {batch} of [{string.Join(",", descriptor.SampleShape)}], forward + backward + Adam, CPU): {perStep[recipe]:F1} ms over {steps} steps");
        }

        table.Add("hdr-denoiser training step, batch 16 of [9,32,32], CPU", perStep["hdr-denoiser"], "ms", perStep["denoiser"], "denoiser step, batch 16 of [3,32,32]", "report", higherIsBetter: false);
    }

    private static double Median(int iterations, Action run)
    {
        run();
        var times = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            run();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        return times[iterations / 2];
    }

    private sealed class RoundReports(Action<LocalRoundReport> report) : IProgress<LocalRoundReport>
    {
        public void Report(LocalRoundReport value) => report(value);
    }
}
