using System.Globalization;
using System.Text.Json;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Loop;

/// <summary>
/// A preempted shard's exact state, as one safetensors file: the model's weights (<c>model/NAME</c>, F32; integer
/// buffers I64), the local optimiser's state (<c>optimizer</c>, U8: TorchSharp's own serialisation of Adam's step counts
/// and moment tensors or SGD's momentum buffers, bit for bit; its settings in metadata <c>rmtc.optimizer</c>), and where training stood (metadata <c>rmtc.position</c>: epoch, batch, loss sums). With the seeded
/// shuffle (epoch <c>e</c>'s order is the identity shuffled by seeds (seed, 0) .. (seed, e)), resuming replays exactly
/// the batches an uninterrupted attempt would have trained next.
/// </summary>
public static class ShardCheckpoint
{
    /// <summary>Metadata key present in every checkpoint (value: format version).</summary>
    public const string Marker = "rmtc.checkpoint";
    private const string PositionKey = "rmtc.position";
    private const string ModelPrefix = "model/";
    private const string OptimizerName = "optimizer";
    private const string OptimizerKey = "rmtc.optimizer";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Writes the checkpoint atomically (temp file, then rename) so a kill mid-write leaves none rather than half of one.</summary>
    internal static void Write(string path, ShardTask task, string recipe, int samples, nn.Module model, OptimizerHelper optimizer, TrainingPosition position)
    {
        var tensors = new List<NamedTensor>();
        foreach (var t in TorchWeights.Export(model))
        {
            tensors.Add(new NamedTensor(ModelPrefix + t.Name, t.DType, t.Shape, t.Data));
        }

        using (var buffer = new MemoryStream())
        {
            using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                optimizer.save_state_dict(writer);
            }

            var bytes = buffer.ToArray();
            tensors.Add(new NamedTensor(OptimizerName, TensorDType.U8, [bytes.LongLength], bytes));
        }

        var metadata = new Dictionary<string, string>
        {
            [Marker] = "1",
            ["recipe"] = recipe,
            ["run"] = task.RunId,
            ["round"] = task.Round.ToString(CultureInfo.InvariantCulture),
            ["shard"] = task.Shard.ToString(CultureInfo.InvariantCulture),
            ["seed"] = task.Seed.ToString(CultureInfo.InvariantCulture),
            ["samples"] = samples.ToString(CultureInfo.InvariantCulture),
            ["batchSize"] = task.BatchSize.ToString(CultureInfo.InvariantCulture),
            ["epochs"] = task.Epochs.ToString(CultureInfo.InvariantCulture),
            [PositionKey] = JsonSerializer.Serialize(position, Json),
            [OptimizerKey] = JsonSerializer.Serialize(task.Optimizer ?? OptimizerSettings.Default, Json),
        };
        var parent = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(parent))
        {
            Directory.CreateDirectory(parent);
        }

        var temp = path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        Safetensors.WriteFile(temp, tensors, metadata);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// Loads <paramref name="path"/> into <paramref name="model"/> and <paramref name="optimizer"/> and returns where training
    /// stood. Refuses a checkpoint of another shard, seed, recipe, sample count or batch size with <see cref="WeightsMismatchException"/>
    /// naming the field: resuming it would not be the same training.
    /// </summary>
    internal static TrainingPosition Restore(string path, ShardTask task, string recipe, int samples, nn.Module model, OptimizerHelper optimizer)
    {
        var (tensors, metadata) = ReadFile(path);
        Expect(metadata, "recipe", recipe, path);
        Expect(metadata, "run", task.RunId, path);
        Expect(metadata, "round", task.Round.ToString(CultureInfo.InvariantCulture), path);
        Expect(metadata, "shard", task.Shard.ToString(CultureInfo.InvariantCulture), path);
        Expect(metadata, "seed", task.Seed.ToString(CultureInfo.InvariantCulture), path);
        Expect(metadata, "samples", samples.ToString(CultureInfo.InvariantCulture), path);
        Expect(metadata, "batchSize", task.BatchSize.ToString(CultureInfo.InvariantCulture), path);
        Expect(metadata, "epochs", task.Epochs.ToString(CultureInfo.InvariantCulture), path);
        // Checkpoints written before optimiser settings existed have no key: they were Adam's, the default.
        var optimizerSettings = JsonSerializer.Serialize(task.Optimizer ?? OptimizerSettings.Default, Json);
        if (metadata.TryGetValue(OptimizerKey, out var written) ? written != optimizerSettings : task.Optimizer is not null && task.Optimizer != OptimizerSettings.Default)
        {
            throw new WeightsMismatchException(
                $"checkpoint {path} is for optimizer {written ?? "adam"} but this attempt has {optimizerSettings}: it belongs to another shard or settings");
        }

        var position = ReadPosition(metadata, path);
        if (position.Epoch < 0 || position.Epoch >= task.Epochs || position.Batch < 0 || position.EpochLosses.Length != position.Epoch)
        {
            throw new WeightsMismatchException($"checkpoint {path}: position epoch {position.Epoch}, batch {position.Batch} does not fit a {task.Epochs}-epoch shard");
        }

        var weights = tensors.Where(t => t.Name.StartsWith(ModelPrefix, StringComparison.Ordinal))
            .Select(t => new NamedTensor(t.Name[ModelPrefix.Length..], t.DType, t.Shape, t.Data)).ToList();
        TorchWeights.Load(model, weights, $"checkpoint {path}");
        var state = tensors.FirstOrDefault(t => t.Name == OptimizerName)
            ?? throw new WeightsMismatchException($"checkpoint {path} has no '{OptimizerName}' tensor (optimiser state)");
        try
        {
            using var reader = new BinaryReader(new MemoryStream(state.Data, writable: false));
            optimizer.load_state_dict(reader);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or EndOfStreamException)
        {
            throw new WeightsMismatchException($"checkpoint {path}: the optimiser state does not fit this model ({e.Message})");
        }

        return position;
    }

    /// <summary>Where a checkpoint says training stood, or null when <paramref name="path"/> is not a readable checkpoint.</summary>
    public static TrainingPosition? TryReadPosition(string path)
    {
        try
        {
            return ReadPosition(ReadFile(path).Metadata, path);
        }
        catch (WeightsMismatchException)
        {
            return null;
        }
    }

    private static (IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadFile(string path)
    {
        try
        {
            var file = Safetensors.ReadFile(path);
            if (!file.Metadata.ContainsKey(Marker))
            {
                throw new WeightsMismatchException($"{path} is not a shard checkpoint (no '{Marker}' metadata)");
            }

            return file;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SafetensorsFormatException)
        {
            throw new WeightsMismatchException($"cannot read checkpoint {path}: {e.Message}");
        }
    }

    private static TrainingPosition ReadPosition(IReadOnlyDictionary<string, string> metadata, string path)
    {
        try
        {
            return metadata.TryGetValue(PositionKey, out var json) && JsonSerializer.Deserialize<TrainingPosition>(json, Json) is { } p
                ? p
                : throw new WeightsMismatchException($"checkpoint {path} has no '{PositionKey}' metadata");
        }
        catch (JsonException e)
        {
            throw new WeightsMismatchException($"checkpoint {path}: '{PositionKey}' is not valid: {e.Message}");
        }
    }

    private static void Expect(IReadOnlyDictionary<string, string> metadata, string key, string expected, string path)
    {
        if (!metadata.TryGetValue(key, out var actual) || actual != expected)
        {
            throw new WeightsMismatchException(
                $"checkpoint {path} is for {key} '{actual ?? "(none)"}' but this attempt has {key} '{expected}': it belongs to another shard or settings");
        }
    }
}

/// <summary>Where a shard's training stands: the 0-based epoch in progress, batches done in it, and its loss sums so far.</summary>
/// <param name="Epoch">0-based epoch in progress.</param>
/// <param name="Batch">Batches of that epoch already trained.</param>
/// <param name="LossSum">Sample-weighted loss sum of those batches.</param>
/// <param name="Seen">Samples of those batches.</param>
/// <param name="EpochLosses">Mean losses of the epochs already finished.</param>
public sealed record TrainingPosition(int Epoch, int Batch, double LossSum, long Seen, double[] EpochLosses);

/// <summary>Training stopped because the node yielded to rendering; the checkpoint (if the task named one) is written.</summary>
public sealed class ShardYieldedException(ShardYieldReport report, string? checkpointPath)
    : Exception($"yielded at epoch {report.Epoch}, batch {report.BatchesDone} ({report.SamplesSeen}/{report.SamplesTotal} samples)")
{
    /// <summary>Where training stood.</summary>
    public ShardYieldReport Report { get; } = report;

    /// <summary>The checkpoint written, or null when the task asked for none.</summary>
    public string? CheckpointPath { get; } = checkpointPath;
}
