using System.Globalization;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Training.Loop;

/// <summary>
/// Models built (a recipe's module) or loaded (a TorchScript file, known by its digest) kept on their device between a
/// long-lived trainer's tasks, so a shard of the same model skips building or loading it. A model taken from here is
/// overwritten whole by the task's weights (every parameter and buffer) and trained with a fresh optimiser, so it
/// trains exactly as a new one would. Holds at most <see cref="Capacity"/> models, disposing the least recently used.
/// </summary>
public sealed class ModelCache : IDisposable
{
    private readonly Lock _gate = new();
    private readonly LinkedList<(string Key, RecipeModel Model)> _models = new();

    /// <summary>A cache of at most <paramref name="capacity"/> models (0: keeps none).</summary>
    public ModelCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Capacity = capacity;
    }

    /// <summary>The most models kept.</summary>
    public int Capacity { get; }

    /// <summary>Tasks that found their model here.</summary>
    public int Hits { get; private set; }

    /// <summary>
    /// The key of the model a task trains: the recipe, or the TorchScript file's digest (none without a digest: such a
    /// file is loaded every time), its shapes and device.
    /// </summary>
    internal static string? KeyOf(Recipe recipe, ScriptedModel? scripted, int[] sampleShape, int classes, string device)
    {
        var model = scripted is null ? recipe.Name : scripted.Digest is { Length: > 0 } digest ? $"torchscript:{digest}" : null;
        return model is null ? null : string.Create(CultureInfo.InvariantCulture, $"{model}|{string.Join('x', sampleShape)}|{classes}|{device}");
    }

    /// <summary>The model kept under <paramref name="key"/>, taken out while a task uses it; null when none is kept.</summary>
    internal RecipeModel? Take(string key)
    {
        lock (_gate)
        {
            for (var node = _models.First; node is not null; node = node.Next)
            {
                if (node.Value.Key == key)
                {
                    _models.Remove(node);
                    Hits++;
                    return node.Value.Model;
                }
            }
        }

        return null;
    }

    /// <summary>Keeps <paramref name="model"/> under <paramref name="key"/> for the next task, disposing the least recently used beyond the capacity.</summary>
    internal void Return(string key, RecipeModel model)
    {
        var evicted = new List<RecipeModel>();
        lock (_gate)
        {
            _models.AddFirst((key, model));
            while (_models.Count > Capacity && _models.Last is { } last)
            {
                _models.RemoveLast();
                evicted.Add(last.Value.Model);
            }
        }

        foreach (var m in evicted)
        {
            m.Dispose();
        }
    }

    /// <summary>Disposes every model kept.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var (_, model) in _models)
            {
                model.Dispose();
            }

            _models.Clear();
        }
    }
}

/// <summary>What a long-lived trainer keeps between tasks: decoded samples (bounded in bytes) and models (bounded in count).</summary>
/// <param name="Samples">Decoded samples.</param>
/// <param name="Models">Built or loaded models.</param>
public sealed record TrainerCaches(SampleCache Samples, ModelCache Models);
