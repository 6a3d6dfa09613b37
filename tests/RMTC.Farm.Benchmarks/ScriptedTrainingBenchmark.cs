using System.Diagnostics;
using System.Globalization;
using RMTC.Farm.Core.Planning;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;
using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// The training loop's own overhead for a scripted model (issue 16), on farm/models' ResNet example
/// (<c>resnet_classifier_synth.pt</c>, BatchNorm included). Per step: an epoch of the shard trainer's own loop
/// (<see cref="ShardTrainer"/>'s epoch over <see cref="ScriptedModelRecipe"/>'s model and loss, with the agent's progress
/// callback) against an epoch of a bare TorchSharp loop on its own instance of the same torch.jit module: the same
/// tensors, the same batches in the same order, forward, cross-entropy, backward, Adam step. Epochs alternate many
/// times so machine noise falls on both alike; both the fastest and the median epochs are compared. Per shard: the
/// whole <see cref="ShardTrainer.Run(ShardTask, IProgress{TrainingProgress}?, CancellationToken)"/> as an agent runs it,
/// whose fixed cost (dataset read, model load, weights and result written) is printed beside the steps.
/// </summary>
internal static class ScriptedTrainingBenchmark
{
    private const int Samples = 512;
    private const int BatchSize = 64;
    private const double LearningRate = 1e-3;
    private const long Seed = 7;

    public static void Run(ResultTable table, int repetitions, int threads)
    {
        threads = threads > 0 ? threads : Environment.ProcessorCount;
        torch.set_num_threads(threads);
        var file = Path.Combine(RepoRoot(), "farm", "models", "resnet_classifier_synth.pt");
        var dir = Directory.CreateTempSubdirectory("rmtc-bench-scripted-");
        try
        {
            var dataset = Path.Combine(dir.FullName, "data");
            DatasetSynthesizer.Synthesize("classifier", dataset, Samples, Seed);
            var scripted = new ScriptedModel { Path = file, Task = "labelled-images", Loss = "cross_entropy" };
            var recipe = RecipeCatalog.Resolve(ScriptedModelRecipe.RecipeName, scripted);
            var (descriptor, data) = ShardTrainer.LoadShard(recipe, dataset, Enumerable.Range(0, Samples).ToArray(), CancellationToken.None);
            using var inputs = ShardTrainer.InputsTensor(data, CPU);
            using var targets = ShardTrainer.TargetsTensor(data, CPU);

            using var model = recipe.CreateModel(descriptor.SampleShape, descriptor.Classes.Count);
            var initial = TorchWeights.Export(model);
            model.train();
            using var optimizer = LocalOptimizer.Create(model.parameters(), LearningRate, null);
            using var bareModule = jit.load<Tensor, Tensor>(file);
            bareModule.train();
            using var bareOptimizer = optim.Adam(bareModule.parameters(), LearningRate);

            var steps = (Samples + BatchSize - 1) / BatchSize;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"scripted: {Path.GetFileName(file)} on {Samples} synthetic 1x16x16 samples, epochs of {steps} steps of batch {BatchSize}, Adam, CPU, {threads} threads, {repetitions} alternated epochs each after a warm-up"));

            var farmOrder = Enumerable.Range(0, Samples).Select(i => (long)i).ToArray();
            var bareOrder = (long[])farmOrder.Clone();
            var farm = new double[repetitions];
            var bare = new double[repetitions];
            for (var epoch = -1; epoch < repetitions; epoch++)
            {
                // Which goes first alternates, so neither always inherits the other's caches or the machine's lulls.
                var e = Math.Max(epoch, 0);
                double farmSeconds, bareSeconds;
                if (epoch % 2 == 0)
                {
                    farmSeconds = FarmEpoch(model, recipe, optimizer, inputs, targets, farmOrder, e);
                    bareSeconds = BareEpoch(bareModule, bareOptimizer, inputs, targets, bareOrder, e);
                }
                else
                {
                    bareSeconds = BareEpoch(bareModule, bareOptimizer, inputs, targets, bareOrder, e);
                    farmSeconds = FarmEpoch(model, recipe, optimizer, inputs, targets, farmOrder, e);
                }

                if (epoch >= 0)
                {
                    farm[epoch] = farmSeconds / steps * 1000;
                    bare[epoch] = bareSeconds / steps * 1000;
                }
            }

            table.Add("scripted ResNet step, shard trainer's loop (fastest epoch)", farm.Min(), "ms", bare.Min(),
                "bare TorchSharp loop, same jit module and batches", "overhead < 5 % (ratio > 0.952)", higherIsBetter: false);
            table.Add("scripted ResNet step, shard trainer's loop (median epoch)", Median(farm), "ms", Median(bare),
                "bare loop, median epoch", "overhead < 5 % (ratio > 0.952)", higherIsBetter: false);
            var inv = CultureInfo.InvariantCulture;
            var paired = Median(farm.Zip(bare, (f, b) => f / b).ToArray());
            Console.WriteLine(string.Create(inv,
                $"  overhead of the training loop: {(farm.Min() / bare.Min() - 1) * 100:F1} % (fastest epochs), {(Median(farm) / Median(bare) - 1) * 100:F1} % (median epochs), {(paired - 1) * 100:F1} % (median of adjacent pairs)"));
            Console.WriteLine(string.Create(inv,
                $"  ms per step by epoch: shard trainer {string.Join(", ", farm.Select(v => v.ToString("F1", inv)))}; bare {string.Join(", ", bare.Select(v => v.ToString("F1", inv)))}"));

            // A whole shard as an agent runs it: what it costs beyond its steps.
            var initialPath = Path.Combine(dir.FullName, "initial.safetensors");
            Safetensors.WriteFile(initialPath, initial, new Dictionary<string, string>());
            var shard = WholeShard(scripted, dataset, initialPath, dir.FullName, threads);
            Console.WriteLine(string.Create(inv,
                $"  a whole shard (ShardTrainer.Run, 1 epoch): {shard:F2} s, of which about {shard - Median(farm) * steps / 1000:F2} s beyond its {steps} steps (dataset read, model load, weights and result written)"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Seconds for one shard through the agent's training code, from reading the dataset to the written result.</summary>
    private static double WholeShard(ScriptedModel model, string dataset, string initialPath, string work, int threads)
    {
        var task = new ShardTask
        {
            RunId = "bench",
            Round = 1,
            Shard = 0,
            Recipe = ScriptedModelRecipe.RecipeName,
            Model = model,
            DatasetPath = dataset,
            SampleIndices = Enumerable.Range(0, Samples).ToArray(),
            InitialWeightsPath = initialPath,
            Seed = Seed,
            Epochs = 1,
            BatchSize = BatchSize,
            LearningRate = LearningRate,
            OutputPath = Path.Combine(work, "out.safetensors"),
            ResultPath = Path.Combine(work, "result.json"),
            Device = "cpu",
            Threads = threads,
        };
        var start = Stopwatch.GetTimestamp();
        ShardTrainer.Run(task, new Progress<TrainingProgress>(), CancellationToken.None);
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>Seconds for one epoch of the shard trainer's loop, reporting progress as an agent's does.</summary>
    private static double FarmEpoch(RecipeModel model, Recipe recipe, optim.Optimizer optimizer, Tensor inputs, Tensor targets, long[] order, int epoch)
    {
        var start = Stopwatch.GetTimestamp();
        long reported = 0;
        ShardTrainer.TrainEpoch(model, recipe, optimizer, inputs, targets, order, BatchSize, Seed, epoch, CPU, CancellationToken.None, (seen, _) => reported = seen);
        return reported > 0 ? Stopwatch.GetElapsedTime(start).TotalSeconds : throw new InvalidOperationException("the epoch reported no progress");
    }

    /// <summary>Seconds for one epoch written directly against TorchSharp: the reference the loop's overhead is measured from.</summary>
    private static double BareEpoch(jit.ScriptModule<Tensor, Tensor> module, optim.Optimizer optimizer, Tensor inputs, Tensor labels, long[] order, int epoch)
    {
        var start = Stopwatch.GetTimestamp();
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
