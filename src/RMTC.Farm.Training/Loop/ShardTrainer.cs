using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Recipes;
using RMTC.Farm.Core.Planning;
using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Loop;

/// <summary>Runs one shard: loads global weights and the shard's samples, trains locally, writes result weights and summary.</summary>
/// <remarks>
/// Local optimiser: <see cref="ShardTask.Optimizer"/> (Adam with no weight decay when unset) at <see cref="ShardTask.LearningRate"/>, fresh per shard
/// (no optimiser state crosses rounds; the coordinator's outer optimiser works on the weight deltas). Each epoch visits
/// the shard's samples in a SplitMix64 shuffle seeded by (<see cref="ShardTask.Seed"/>, epoch), in mini-batches of
/// <see cref="ShardTask.BatchSize"/> (the last one may be smaller). Result weights are the model's state_dict as F32 (integer buffers I64),
/// ordered ordinally by name, with metadata <c>recipe</c>, <c>run</c>, <c>round</c>, <c>shard</c>.
/// </remarks>
public static class ShardTrainer
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Progress reports per epoch (about; plus one at each epoch's end).</summary>
    private const int ReportsPerEpoch = 4;

    /// <summary>Trains per <paramref name="task"/>; writes <see cref="ShardTask.OutputPath"/> and <see cref="ShardTask.ResultPath"/>. Honors cancellation between batches.</summary>
    /// <exception cref="DatasetException">The dataset or a sample does not fit the recipe.</exception>
    /// <exception cref="WeightsMismatchException">The initial weights do not fit the recipe's model.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; nothing is written.</exception>
    public static ShardResult Run(ShardTask task, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) =>
        Run(task, progress, cancellationToken, CancellationToken.None);

    /// <summary>
    /// As <see cref="Run(ShardTask, IProgress{TrainingProgress}?, CancellationToken)"/>, resuming from
    /// <see cref="ShardTask.ResumeCheckpointPath"/> when set; when <paramref name="yieldRequested"/> fires, training stops
    /// before the next batch, writes <see cref="ShardTask.CheckpointPath"/> (weights, optimiser state, position) and throws
    /// <see cref="ShardYieldedException"/>.
    /// </summary>
    /// <exception cref="ShardYieldedException">Yielded; the checkpoint is written.</exception>
    public static ShardResult Run(ShardTask task, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken, CancellationToken yieldRequested) =>
        Run(task, progress, cancellationToken, yieldRequested, caches: null, started: null);

    /// <summary>
    /// As <see cref="Run(ShardTask, IProgress{TrainingProgress}?, CancellationToken, CancellationToken)"/>, for a long-lived
    /// trainer: samples and the model come from and go to <paramref name="caches"/> (the same values as from their files,
    /// and a model overwritten whole by the initial weights, so the weights are the same bytes), and
    /// <paramref name="started"/> gets the seconds spent before the first batch.
    /// </summary>
    /// <exception cref="ShardYieldedException">Yielded; the checkpoint is written.</exception>
    public static ShardResult Run(ShardTask task, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken, CancellationToken yieldRequested,
        TrainerCaches? caches, Action<double>? started)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.Epochs <= 0)
        {
            throw new ArgumentException($"epochs must be positive, got {task.Epochs}", nameof(task));
        }

        if (task.BatchSize <= 0)
        {
            throw new ArgumentException($"batch size must be positive, got {task.BatchSize}", nameof(task));
        }

        if (!(task.LearningRate > 0) || double.IsInfinity(task.LearningRate))
        {
            throw new ArgumentException($"learning rate must be a positive number, got {task.LearningRate}", nameof(task));
        }

        var flipRotate = task.Augment switch
        {
            null or SampleAugmentations.None => false,
            SampleAugmentations.FlipRotate => true,
            _ => throw new ArgumentException($"unknown augmentation '{task.Augment}' (use {string.Join(" or ", SampleAugmentations.All)})", nameof(task)),
        };

        if (task.SampleIndices is null || task.SampleIndices.Length == 0)
        {
            throw new ArgumentException($"shard {task.Shard} of run {task.RunId} has no samples", nameof(task));
        }

        var clock = Stopwatch.StartNew();
        var recipe = RecipeCatalog.Resolve(task.Recipe, task.Model);
        if (task.Threads > 0)
        {
            torch.set_num_threads(task.Threads);
        }

        var (device, deviceName) = ResolveDevice(task.Device);
        cancellationToken.ThrowIfCancellationRequested();

        var (descriptor, data) = LoadShard(recipe, task.DatasetPath, task.SampleIndices, cancellationToken, caches?.Samples);
        var initial = ReadWeights(task.InitialWeightsPath);

        var modelKey = caches is null ? null : ModelCache.KeyOf(recipe, task.Model, descriptor.SampleShape, descriptor.Classes.Count, deviceName);
        var model = (modelKey is null ? null : caches!.Models.Take(modelKey)) ?? recipe.CreateModel(descriptor.SampleShape, descriptor.Classes.Count);
        try
        {
            return Train(task, progress, cancellationToken, yieldRequested, started, clock, recipe, device, deviceName, data, initial, model, flipRotate);
        }
        finally
        {
            // Kept whatever happened: the next task overwrites every parameter and buffer before it trains.
            if (modelKey is not null)
            {
                caches!.Models.Return(modelKey, model);
            }
            else
            {
                model.Dispose();
            }
        }
    }

    private static ShardResult Train(ShardTask task, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken, CancellationToken yieldRequested,
        Action<double>? started, Stopwatch clock, Recipe recipe, Device device, string deviceName, SampleBatchSource data, IReadOnlyList<NamedTensor> initial,
        RecipeModel model, bool flipRotate)
    {
        TorchWeights.Load(model, initial, $"initial weights {task.InitialWeightsPath}");
        model.to(device);
        model.train();

        using var inputs = InputsTensor(data, device);
        using var targets = TargetsTensor(data, device);
        using var optimizer = LocalOptimizer.Create(model.parameters(), task.LearningRate, task.Optimizer);

        var n = data.Count;
        var position = task.ResumeCheckpointPath is { } resume
            ? ShardCheckpoint.Restore(resume, task, recipe.Name, n, model, optimizer)
            : new TrainingPosition(0, 0, 0, 0, []);
        var order = new long[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
        }

        // Each epoch shuffles the previous epoch's order in place: replay the finished epochs' shuffles to stand where they left it.
        for (int e = 0; e < position.Epoch; e++)
        {
            SplitMix64.For(task.Seed, e).Shuffle(order.AsSpan());
        }

        var epochLosses = new double[task.Epochs];
        position.EpochLosses.CopyTo(epochLosses, 0);
        long samplesTotal = (long)n * task.Epochs;
        var cursor = new EpochCursor { Batch = position.Batch, LossSum = position.LossSum, Seen = position.Seen };
        started?.Invoke(clock.Elapsed.TotalSeconds);
        for (int epoch = position.Epoch; epoch < task.Epochs; epoch++)
        {
            var finished = TrainEpochFrom(model, recipe, optimizer, inputs, targets, order, task.BatchSize, task.Seed, epoch, device, cancellationToken, cursor,
                () => yieldRequested.IsCancellationRequested,
                progress is null ? null : (seen, loss) => progress.Report(new TrainingProgress(epoch + 1, task.Epochs, (long)n * epoch + seen, samplesTotal, loss)), flipRotate);
            if (!finished)
            {
                var stoppedAt = new TrainingPosition(epoch, cursor.Batch, cursor.LossSum, cursor.Seen, epochLosses[..epoch]);
                if (task.CheckpointPath is { } checkpoint)
                {
                    ShardCheckpoint.Write(checkpoint, task, recipe.Name, n, model, optimizer, stoppedAt);
                }

                throw new ShardYieldedException(new ShardYieldReport(epoch + 1, cursor.Batch, (long)n * epoch + cursor.Seen, samplesTotal), task.CheckpointPath);
            }

            epochLosses[epoch] = cursor.LossSum / cursor.Seen;
            cursor = new EpochCursor();
        }

        cancellationToken.ThrowIfCancellationRequested();
        var weights = TorchWeights.Export(model);
        EnsureParent(task.OutputPath);
        Safetensors.WriteFile(task.OutputPath, weights, new Dictionary<string, string>
        {
            ["recipe"] = recipe.Name,
            ["run"] = task.RunId,
            ["round"] = task.Round.ToString(CultureInfo.InvariantCulture),
            ["shard"] = task.Shard.ToString(CultureInfo.InvariantCulture),
        });

        var result = new ShardResult
        {
            Samples = n,
            FinalLoss = epochLosses[^1],
            EpochLosses = epochLosses,
            Seconds = clock.Elapsed.TotalSeconds,
            Device = deviceName,
        };
        WriteJsonAtomically(task.ResultPath, result);
        return result;
    }

    /// <summary>
    /// One epoch over <paramref name="inputs"/> in a SplitMix64 shuffle seeded by (<paramref name="seed"/>,
    /// <paramref name="epoch"/>), in mini-batches of <paramref name="batchSize"/>; returns the sample-weighted mean loss.
    /// <paramref name="report"/> gets (samples seen this epoch, mean loss so far) about <see cref="ReportsPerEpoch"/> times.
    /// </summary>
    internal static double TrainEpoch(RecipeModel model, Recipe recipe, optim.Optimizer optimizer, Tensor inputs, Tensor targets, long[] order,
        int batchSize, long seed, int epoch, Device device, CancellationToken cancellationToken, Action<long, double>? report = null, bool flipRotate = false)
    {
        var cursor = new EpochCursor();
        TrainEpochFrom(model, recipe, optimizer, inputs, targets, order, batchSize, seed, epoch, device, cancellationToken, cursor, null, report, flipRotate);
        return cursor.LossSum / cursor.Seen;
    }

    /// <summary>
    /// <see cref="TrainEpoch"/> from <paramref name="cursor"/>'s batch on (the shuffle is always applied, so a resumed
    /// epoch visits the same batches), advancing the cursor after every batch. Returns false when
    /// <paramref name="shouldYield"/> said so before a batch: the cursor then says exactly where training stands.
    /// With <paramref name="flipRotate"/>, each batch's inputs and targets are turned alike (<see cref="FlipRotate"/>).
    /// </summary>
    internal static bool TrainEpochFrom(RecipeModel model, Recipe recipe, optim.Optimizer optimizer, Tensor inputs, Tensor targets, long[] order,
        int batchSize, long seed, int epoch, Device device, CancellationToken cancellationToken, EpochCursor cursor, Func<bool>? shouldYield, Action<long, double>? report,
        bool flipRotate = false)
    {
        if (flipRotate && targets.dim() != 4)
        {
            throw new ArgumentException($"recipe {recipe.Name}: augment flip-rotate turns input and target images together, but this recipe's targets are labels: remove `augment` from the spec's local block");
        }

        var n = order.Length;
        var batches = (n + batchSize - 1) / batchSize;
        var reportEvery = Math.Max(1, (batches + ReportsPerEpoch - 1) / ReportsPerEpoch);
        SplitMix64.For(seed, epoch).Shuffle(order.AsSpan());
        for (int b = cursor.Batch; b < batches; b++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (shouldYield?.Invoke() == true)
            {
                return false;
            }

            var start = b * batchSize;
            var count = Math.Min(batchSize, n - start);
            float loss;
            using (NewDisposeScope())
            {
                var index = tensor(order.AsSpan(start, count).ToArray(), device: device);
                var x = inputs.index_select(0, index);
                var y = targets.index_select(0, index);
                if (flipRotate)
                {
                    var orientation = FlipRotate.Orientation(seed, epoch, b);
                    x = FlipRotate.Apply(x, orientation);
                    y = FlipRotate.Apply(y, orientation);
                }

                optimizer.zero_grad();
                var output = model.forward(x);
                var batchLoss = recipe.Loss(output, y);
                batchLoss.backward();
                optimizer.step();
                loss = batchLoss.item<float>();
            }

            if (!float.IsFinite(loss))
            {
                throw new InvalidOperationException(
                    $"recipe {recipe.Name}: loss became {loss} in epoch {epoch + 1}, batch {b + 1}; lower the learning rate");
            }

            cursor.LossSum += (double)loss * count;
            cursor.Seen += count;
            cursor.Batch = b + 1;
            if (report is not null && ((b + 1) % reportEvery == 0 || b == batches - 1))
            {
                report(cursor.Seen, cursor.LossSum / cursor.Seen);
            }
        }

        return true;
    }

    /// <summary>Where an epoch stands: batches done and their loss sum and sample count.</summary>
    internal sealed class EpochCursor
    {
        public int Batch;
        public double LossSum;
        public long Seen;
    }

    /// <summary>
    /// Mean loss of <paramref name="weights"/> on samples of a dataset (all of them when <paramref name="sampleIndices"/>
    /// is null), in eval mode without gradients: the same loss the trainer minimises.
    /// </summary>
    public static double Evaluate(string recipe, string datasetPath, IReadOnlyList<NamedTensor> weights, IReadOnlyList<int>? sampleIndices = null, string device = "cpu", int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var r = RecipeCatalog.Get(recipe);
        var (dev, _) = ResolveDevice(device);
        var indices = sampleIndices?.ToArray() ?? Enumerable.Range(0, Dataset.ListSamples(datasetPath).Count).ToArray();
        var (descriptor, data) = LoadShard(r, datasetPath, indices, CancellationToken.None);

        using var model = r.CreateModel(descriptor.SampleShape, descriptor.Classes.Count);
        TorchWeights.Load(model, weights);
        model.to(dev);
        model.eval();
        using var inputs = InputsTensor(data, dev);
        using var targets = TargetsTensor(data, dev);
        using var noGrad = no_grad();
        double sum = 0;
        for (int start = 0; start < data.Count; start += batchSize)
        {
            var count = Math.Min(batchSize, data.Count - start);
            using var scope = NewDisposeScope();
            var x = inputs.narrow(0, start, count);
            var y = targets.narrow(0, start, count);
            sum += (double)r.Loss(model.forward(x), y).item<float>() * count;
        }

        return sum / data.Count;
    }

    /// <summary><c>auto</c> (CUDA when available), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    internal static (Device Device, string Name) ResolveDevice(string? requested)
    {
        var d = (requested ?? "auto").Trim().ToLowerInvariant();
        switch (d)
        {
            case "" or "auto":
                return cuda.is_available() ? (CUDA, "cuda") : (CPU, "cpu");
            case "cpu":
                return (CPU, "cpu");
        }

        if (d == "cuda" || d.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
            {
                throw new InvalidOperationException(
                    $"device '{requested}' requested but CUDA is not available (build with -p:RmtcAccelerator=cuda on a node with a GPU, or use device auto/cpu)");
            }

            return (torch.device(d), d);
        }

        throw new ArgumentException($"unknown device '{requested}' (use auto, cpu, cuda or cuda:N)", nameof(requested));
    }

    internal static (DatasetDescriptor Descriptor, SampleBatchSource Data) LoadShard(Recipe recipe, string datasetPath, IReadOnlyList<int> indices, CancellationToken cancellationToken,
        SampleCache? cache = null)
    {
        var descriptor = Dataset.ReadDescriptor(datasetPath);
        if (descriptor.Kind != recipe.DatasetKind)
        {
            throw new DatasetException(
                $"recipe {recipe.Name} trains on {recipe.DatasetKind} datasets, but {datasetPath} is {descriptor.Kind}");
        }

        try
        {
            recipe.Validate(descriptor.SampleShape, descriptor.Classes.Count);
        }
        catch (ArgumentException e)
        {
            throw new DatasetException($"{datasetPath}: {e.Message}");
        }

        var all = Dataset.ListSamples(datasetPath);
        var relative = new string[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            var index = indices[i];
            if (index < 0 || index >= all.Count)
            {
                throw new DatasetException($"sample index {index} is outside the {all.Count} samples of {datasetPath}");
            }

            relative[i] = all[index];
        }

        return (descriptor, SampleLoader.Load(Path.GetFullPath(datasetPath), descriptor, relative, cancellationToken, cache));
    }

    internal static IReadOnlyList<NamedTensor> ReadWeights(string path)
    {
        try
        {
            return Safetensors.ReadFile(path).Tensors;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SafetensorsFormatException)
        {
            throw new WeightsMismatchException($"cannot read weights {path}: {e.Message}");
        }
    }

    internal static Tensor InputsTensor(SampleBatchSource data, Device device)
    {
        var s = data.SampleShape;
        return tensor(data.Inputs, [data.Count, s[0], s[1], s[2]], ScalarType.Float32, device);
    }

    internal static Tensor TargetsTensor(SampleBatchSource data, Device device)
    {
        var s = data.TargetShape ?? data.SampleShape;
        return data.Targets is not null
            ? tensor(data.Targets, [data.Count, s[0], s[1], s[2]], ScalarType.Float32, device)
            : tensor(data.Labels!, [data.Count], ScalarType.Int64, device);
    }

    private static void EnsureParent(string path)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(parent))
        {
            Directory.CreateDirectory(parent);
        }
    }

    private static void WriteJsonAtomically(string path, ShardResult result)
    {
        EnsureParent(path);
        var temp = path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        File.WriteAllText(temp, JsonSerializer.Serialize(result, JsonOptions));
        File.Move(temp, path, overwrite: true);
    }
}
