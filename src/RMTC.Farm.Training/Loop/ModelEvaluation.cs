using System.Diagnostics;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Recipes;
using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Loop;

/// <summary>
/// How a model does on held-out samples: the recipe's loss, plus accuracy (classifiers: share of argmax equal to the
/// label) or PSNR in dB: 10·log10(1/MSE) with pixels in 0..1, for image-pairs on the pixels themselves, for render-pairs
/// on the tone-mapped radiance (<see cref="Psnr.ToneMap(Tensor)"/>), the MSE over every pixel and channel of the split.
/// </summary>
public sealed record EvaluationResult(double Loss, double? Accuracy, double? Psnr, int Samples, double Seconds);

/// <summary>
/// Held-out samples loaded once (inputs and targets as tensors), so a model can be evaluated every round without
/// reading the files again. Not thread-safe: evaluate one model at a time.
/// </summary>
public sealed class EvaluationSet : IDisposable
{
    private readonly Recipe _recipe;
    private readonly DatasetDescriptor _descriptor;
    private readonly Tensor _inputs;
    private readonly Tensor _targets;
    private readonly Device _device;
    private readonly int _batchSize;

    private EvaluationSet(Recipe recipe, DatasetDescriptor descriptor, Tensor inputs, Tensor targets, Device device, int count, int batchSize)
    {
        _recipe = recipe;
        _descriptor = descriptor;
        _inputs = inputs;
        _targets = targets;
        _device = device;
        Count = count;
        _batchSize = batchSize;
    }

    /// <summary>Samples in the set.</summary>
    public int Count { get; }

    /// <summary>
    /// Loads the samples at <paramref name="sampleIndices"/> (into the dataset's sorted sample list) for
    /// <paramref name="recipe"/>. Throws <see cref="DatasetException"/> when they do not fit it.
    /// </summary>
    public static EvaluationSet Load(string recipe, string datasetPath, IReadOnlyList<int> sampleIndices, string device = "cpu", int batchSize = 500) =>
        Load(RecipeCatalog.Get(recipe), datasetPath, sampleIndices, device, batchSize);

    /// <summary>As <see cref="Load(string, string, IReadOnlyList{int}, string, int)"/> for a resolved recipe (built-in or scripted).</summary>
    internal static EvaluationSet Load(Recipe r, string datasetPath, IReadOnlyList<int> sampleIndices, string device = "cpu", int batchSize = 500)
    {
        ArgumentNullException.ThrowIfNull(sampleIndices);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        if (sampleIndices.Count == 0)
        {
            throw new DatasetException($"{datasetPath}: the evaluation split is empty");
        }

        var (dev, _) = ShardTrainer.ResolveDevice(device);
        var (descriptor, data) = ShardTrainer.LoadShard(r, datasetPath, sampleIndices, CancellationToken.None);
        return new EvaluationSet(r, descriptor, ShardTrainer.InputsTensor(data, dev), ShardTrainer.TargetsTensor(data, dev), dev, data.Count, batchSize);
    }

    /// <summary>Evaluates <paramref name="weights"/> (the recipe's state dict, F32). Throws <see cref="WeightsMismatchException"/> when they do not fit.</summary>
    public EvaluationResult Evaluate(IReadOnlyList<NamedTensor> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        using var model = _recipe.CreateModel(_descriptor.SampleShape, _descriptor.Classes.Count);
        TorchWeights.Load(model, weights);
        model.to(_device);
        return Evaluate(model);
    }

    /// <summary>Evaluates a live model (switched to eval mode and back to train mode after).</summary>
    internal EvaluationResult Evaluate(RecipeModel model)
    {
        var clock = Stopwatch.StartNew();
        var classifier = _descriptor.Kind == DatasetKinds.LabelledImages;
        model.eval();
        var render = _descriptor.Kind == DatasetKinds.RenderPairs;
        double lossSum = 0;
        long correct = 0;
        double squaredErrors = 0;
        long values = 0;
        using (no_grad())
        {
            for (int start = 0; start < Count; start += _batchSize)
            {
                var count = Math.Min(_batchSize, Count - start);
                using var scope = NewDisposeScope();
                var x = _inputs.narrow(0, start, count);
                var y = _targets.narrow(0, start, count);
                var output = model.forward(x);
                lossSum += (double)_recipe.Loss(output, y).item<float>() * count;
                if (classifier)
                {
                    correct += output.argmax(1).eq(y).sum().item<long>();
                }
                else if (render)
                {
                    squaredErrors += Psnr.HdrSquaredErrorSum(output, y);
                    values += y.numel();
                }
            }
        }

        model.train();
        var loss = lossSum / Count;
        return new EvaluationResult(
            loss,
            classifier ? (double)correct / Count : null,
            // Image pairs' loss is the MSE on 0..1 pixels; a render model's is taken on tone-mapped values with an ε, so its PSNR is measured apart.
            classifier ? null : render ? Psnr.FromMse(squaredErrors / values) : Psnr.FromMse(loss),
            Count,
            clock.Elapsed.TotalSeconds);
    }

    public void Dispose()
    {
        _inputs.Dispose();
        _targets.Dispose();
    }
}
