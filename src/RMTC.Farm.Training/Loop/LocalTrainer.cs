using System.Diagnostics;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Recipes;
using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Loop;

/// <summary>What <see cref="LocalTrainer"/> trains: the farm run's recipe, data, seeds and total epoch budget, in one process.</summary>
public sealed record LocalTrainingRequest
{
    public required string Recipe { get; init; }
    public required string DatasetPath { get; init; }
    /// <summary>Indices (into the dataset's sorted sample list) to train on.</summary>
    public required int[] TrainIndices { get; init; }
    /// <summary>Indices to evaluate on after each round; empty for none.</summary>
    public int[] EvaluationIndices { get; init; } = [];
    public required IReadOnlyList<NamedTensor> InitialWeights { get; init; }
    /// <summary>Evaluation points: after every <see cref="EpochsPerRound"/> epochs, as the farm evaluates after every round.</summary>
    public int Rounds { get; init; } = 1;
    public int EpochsPerRound { get; init; } = 1;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 0.001;
    /// <summary>How the learning rate moves from round to round (<see cref="LearningRateSchedules"/>), as on the farm.</summary>
    public string LearningRateSchedule { get; init; } = LearningRateSchedules.Constant;
    /// <summary>The last round's learning rate under a decaying schedule.</summary>
    public double FinalLearningRate { get; init; }
    /// <summary>Turn each batch's pairs to one of 8 orientations (<c>local.augment: flip-rotate</c>).</summary>
    public bool FlipRotate { get; init; }
    public long Seed { get; init; }
    public string Device { get; init; } = "auto";
    public int Threads { get; init; }
    /// <summary>The local optimiser; null for Adam without weight decay.</summary>
    public OptimizerSettings? Optimizer { get; init; }
    /// <summary>A TorchScript model to train instead of <see cref="Recipe"/>; null for a built-in recipe.</summary>
    public ScriptedModel? Model { get; init; }
}

/// <summary>One round of a local run: its training loss and the evaluation after it.</summary>
public sealed record LocalRoundReport(int Round, double TrainLoss, EvaluationResult? Evaluation, double Seconds);

/// <summary>
/// The baseline a farm run is judged against: the same recipe, data and total epochs (rounds x local epochs) trained
/// continuously in one process (one optimiser for the whole run, as a workstation would), evaluated at the same
/// points as the farm evaluates its global model.
/// </summary>
public static class LocalTrainer
{
    /// <summary>Trains; reports each round; returns the final weights.</summary>
    public static IReadOnlyList<NamedTensor> Run(LocalTrainingRequest request, IProgress<LocalRoundReport>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var recipe = RecipeCatalog.Resolve(request.Recipe, request.Model);
        if (request.Threads > 0)
        {
            torch.set_num_threads(request.Threads);
        }

        var (device, _) = ShardTrainer.ResolveDevice(request.Device);
        var (descriptor, data) = ShardTrainer.LoadShard(recipe, request.DatasetPath, request.TrainIndices, cancellationToken);
        using var evaluation = request.EvaluationIndices.Length > 0
            ? EvaluationSet.Load(recipe, request.DatasetPath, request.EvaluationIndices, request.Device)
            : null;
        using var model = recipe.CreateModel(descriptor.SampleShape, descriptor.Classes.Count);
        TorchWeights.Load(model, request.InitialWeights, "initial weights");
        model.to(device);
        model.train();
        using var inputs = ShardTrainer.InputsTensor(data, device);
        using var targets = ShardTrainer.TargetsTensor(data, device);
        using var optimizer = LocalOptimizer.Create(model.parameters(), request.LearningRate, request.Optimizer);
        var order = Enumerable.Range(0, data.Count).Select(i => (long)i).ToArray();
        var epoch = 0;
        for (var round = 1; round <= request.Rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            double loss = 0;
            // The farm's shards start each round at the schedule's rate for it; this one optimiser moves to the same rate.
            var rate = Core.Training.LearningRateSchedule.At(request.LearningRateSchedule, request.LearningRate, request.FinalLearningRate, round, request.Rounds);
            foreach (var group in optimizer.ParamGroups)
            {
                group.LearningRate = rate;
            }

            for (var e = 0; e < request.EpochsPerRound; e++, epoch++)
            {
                loss = ShardTrainer.TrainEpoch(model, recipe, optimizer, inputs, targets, order, request.BatchSize, request.Seed, epoch, device, cancellationToken,
                    flipRotate: request.FlipRotate);
            }

            var result = evaluation?.Evaluate(model);
            progress?.Report(new LocalRoundReport(round, loss, result, clock.Elapsed.TotalSeconds));
        }

        return TorchWeights.Export(model);
    }
}
