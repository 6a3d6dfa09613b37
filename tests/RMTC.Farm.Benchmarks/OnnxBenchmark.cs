using System.Diagnostics;
using RMTC.Farm.Inference.Runtime;
using RMTC.Farm.Onnx.Export;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// Inference latency of every recipe's model: ONNX Runtime on the exported file against TorchSharp's eval forward of
/// the same weights, on the same input, same thread count, both on the CPU, measured in the same run.
/// </summary>
internal static class OnnxBenchmark
{
    private const int Warmup = 5;

    public static void Run(ResultTable table, int iterations)
    {
        var threads = Environment.ProcessorCount;
        TorchSharp.torch.set_num_threads(threads);
        Console.WriteLine($"onnx: ONNX Runtime (CPU) vs TorchSharp eval, {threads} threads, {iterations} timed runs each after {Warmup} warm-up runs");
        foreach (var (recipe, shape) in new (string, long[])[]
                 {
                     ("denoiser", [1, 3, 256, 256]),
                     ("denoiser", [16, 3, 32, 32]),
                     ("classifier", [64, 3, 32, 32]),
                 })
        {
            var classes = RecipeCatalog.DatasetKind(recipe) == "labelled-images" ? 4 : 0;
            int[] sample = [3, 32, 32];
            var weights = RecipeCatalog.CreateInitialWeights(recipe, sample, classes, seed: 1);
            var provenance = new OnnxProvenance
            {
                RunId = "bench",
                ModelDigest = new string('0', 64),
                Recipe = recipe,
                SampleShape = sample,
                Classes = Enumerable.Range(0, classes).Select(i => $"c{i}").ToList(),
            };
            using var session = new OnnxModelSession(OnnxExporter.Export(weights, provenance), cpuOnly: true, threads: threads);
            using var torch = new ModelEvaluator(recipe, sample, classes, weights);
            var random = new Random(3);
            var input = new float[shape.Aggregate(1L, (p, d) => p * d)];
            for (var i = 0; i < input.Length; i++)
            {
                input[i] = random.NextSingle();
            }

            var ort = Median(iterations, () => session.Run(input, shape));
            var reference = Median(iterations, () => torch.Forward(input, shape));
            var name = $"{recipe} [{string.Join("x", shape)}] ONNX Runtime p50";
            table.Add(name, ort, "ms", reference, "TorchSharp eval p50, same input", "report (ratio > 1: ONNX Runtime faster)", higherIsBetter: false);
        }
    }

    private static double Median(int iterations, Action run)
    {
        for (var i = 0; i < Warmup; i++)
        {
            run();
        }

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
}
