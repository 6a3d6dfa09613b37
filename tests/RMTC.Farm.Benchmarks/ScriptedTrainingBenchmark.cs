using System.Diagnostics;
using System.Globalization;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Planning;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Loop;
using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// The training loop's own overhead for a scripted model (issue 16): a shard of farm/models' ResNet example
/// (<c>resnet_classifier_synth.pt</c>, BatchNorm included) trained by <see cref="ShardTrainer"/> exactly as an agent
/// runs it (dataset read, initial weights loaded, result and weights written) against a bare TorchSharp loop on the same
/// torch.jit module: the same samples already in memory, the same batches in the same order, forward, cross-entropy,
/// backward, Adam step. Both on the CPU with the same threads, in short runs alternated many times so machine noise
/// falls on both alike; the headline compares each side's fastest run (the one least disturbed by other processes),
/// the medians are printed beside it.
/// </summary>
internal static class ScriptedTrainingBenchmark
{
    private const int Samples = 512;
    private const int BatchSize = 64;
    private const int Epochs = 2;
    private const double LearningRate = 1e-3;
    private const long Seed = 7;

    public static void Run(ResultTable table, int repetitions, int threads)
    {
        threads = threads > 0 ? threads : Environment.ProcessorCount;
        torch.set_num_threads(threads);
        var model = Path.Combine(RepoRoot(), "farm", "models", "resnet_classifier_synth.pt");
        var dir = Directory.CreateTempSubdirectory("rmtc-bench-scripted-");
        try
        {
            var dataset = Path.Combine(dir.FullName, "data");
            DatasetSynthesizer.Synthesize("classifier", dataset, Samples, Seed);
            var initialPath = Path.Combine(dir.FullName, "initial.safetensors");
            using (var module = jit.load<Tensor, Tensor>(model))
            {
                Safetensors.WriteFile(initialPath, TorchWeights.Export(module), new Dictionary<string, string>());
            }

            var steps = Epochs * ((Samples + BatchSize - 1) / BatchSize);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"scripted: {Path.GetFileName(model)} on {Samples} synthetic 1x16x16 samples, {Epochs} epochs of batch {BatchSize} ({steps} steps), Adam, CPU, {threads} threads, {repetitions} alternated repetitions after a warm-up"));

            var descriptor = Dataset.ReadDescriptor(dataset);
            var data = SampleLoader.Load(dataset, descriptor, Dataset.ListSamples(dataset));
            var initial = Safetensors.ReadFile(initialPath).Tensors;

            var farm = new double[repetitions];
            var bare = new double[repetitions];
            Farm(model, dataset, initialPath, dir.FullName, threads);
            Bare(model, data, initial);
            for (var r = 0; r < repetitions; r++)
            {
                farm[r] = Farm(model, dataset, initialPath, dir.FullName, threads);
                bare[r] = Bare(model, data, initial);
            }

            var farmStep = farm.Min() / steps * 1000;
            var bareStep = bare.Min() / steps * 1000;
            table.Add("scripted ResNet step, ShardTrainer (whole shard / steps, fastest run)", farmStep, "ms", bareStep,
                "bare TorchSharp loop, same jit module and batches", "overhead < 5 % (ratio > 0.952)", higherIsBetter: false);
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv,
                $"  overhead of the training loop: {(farmStep / bareStep - 1) * 100:F1} % (fastest runs), {(Median(farm) / Median(bare) - 1) * 100:F1} % (medians)"));
            Console.WriteLine(string.Create(inv,
                $"  runs (s): shard trainer {string.Join(", ", farm.Select(v => v.ToString("F2", inv)))}; bare {string.Join(", ", bare.Select(v => v.ToString("F2", inv)))}"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Seconds for one shard through the agent's training code, from reading the dataset to the written result.</summary>
    private static double Farm(string model, string dataset, string initialPath, string work, int threads)
    {
        var task = new ShardTask
        {
            RunId = "bench",
            Round = 1,
            Shard = 0,
            Recipe = "torchscript",
            Model = new ScriptedModel { Path = model, Task = "labelled-images", Loss = "cross_entropy" },
            DatasetPath = dataset,
            SampleIndices = Enumerable.Range(0, Samples).ToArray(),
            InitialWeightsPath = initialPath,
            Seed = Seed,
            Epochs = Epochs,
            BatchSize = BatchSize,
            LearningRate = LearningRate,
            OutputPath = Path.Combine(work, "out.safetensors"),
            ResultPath = Path.Combine(work, "result.json"),
            Device = "cpu",
            Threads = threads,
        };
        var start = Stopwatch.GetTimestamp();
        ShardTrainer.Run(task, progress: null, CancellationToken.None);
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>Seconds for the same steps written directly against TorchSharp, data already in memory.</summary>
    private static double Bare(string model, SampleBatchSource data, IReadOnlyList<NamedTensor> initial)
    {
        using var module = jit.load<Tensor, Tensor>(model);
        TorchWeights.Load(module, initial);
        module.train();
        var s = data.SampleShape;
        using var inputs = tensor(data.Inputs, [data.Count, s[0], s[1], s[2]]);
        using var labels = tensor(data.Labels!, [data.Count]);
        using var optimizer = optim.Adam(module.parameters(), LearningRate);
        var order = Enumerable.Range(0, data.Count).Select(i => (long)i).ToArray();
        var start = Stopwatch.GetTimestamp();
        for (var epoch = 0; epoch < Epochs; epoch++)
        {
            SplitMix64.For(Seed, epoch).Shuffle(order.AsSpan());
            for (var b = 0; b < order.Length; b += BatchSize)
            {
                using var scope = NewDisposeScope();
                var index = tensor(order.AsSpan(b, Math.Min(BatchSize, order.Length - b)).ToArray());
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(module.forward(inputs.index_select(0, index)), labels.index_select(0, index));
                loss.backward();
                optimizer.step();
                _ = loss.item<float>();
            }
        }

        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RMTC.Farm.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (RMTC.Farm.sln) above " + AppContext.BaseDirectory);
    }
}
