using System.Diagnostics;
using System.Text.Json;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Training.Tasks;

/// <summary>
/// A run's starting point, built where training lives (an agent's trainer process, leased as the run's prepare task):
/// the model's initial weights, deterministic from the run's init seed, so the same spec gives the same tensors on any
/// node. The coordinator stores what this writes and records it as round 1's input.
/// </summary>
public static class RunInitialisation
{
    /// <summary>
    /// The initial weights of <paramref name="recipe"/> (or of the TorchScript <paramref name="model"/>, when given) for
    /// the dataset at <paramref name="datasetPath"/>: its sample shape and class count size the model.
    /// </summary>
    /// <param name="recipe">A built-in recipe name (ignored when <paramref name="model"/> is given).</param>
    /// <param name="model">A TorchScript model whose saved state is the starting point; null for a built-in recipe.</param>
    /// <param name="datasetPath">The dataset directory (its <c>dataset.yaml</c> is read, no sample).</param>
    /// <param name="seed">The run's init seed (<see cref="Core.Planning.RunSeeds.Init"/>).</param>
    /// <exception cref="ScriptedModelRefusedException">
    /// <paramref name="model"/> fails its check against the dataset (<see cref="ScriptedModelInitialisation"/>): every
    /// problem names the file as <see cref="ScriptedModel.Source"/> says (the spec's path), not the local copy read.
    /// </exception>
    public static IReadOnlyList<NamedTensor> Create(string recipe, ScriptedModel? model, string datasetPath, long seed) =>
        CreateState(recipe, model, datasetPath, seed).Weights;

    /// <summary>
    /// <see cref="Create"/> with the names of the model's floating-point buffers (a TorchScript model's running
    /// statistics; none for a built-in recipe), which the initial weights record as <see cref="WeightsMetadata.Statistics"/>.
    /// </summary>
    public static (IReadOnlyList<NamedTensor> Weights, IReadOnlyList<string> Statistics) CreateState(string recipe, ScriptedModel? model, string datasetPath, long seed)
    {
        if (model is not null)
        {
            var start = ScriptedModelInitialisation.Create(model, datasetPath);
            if (start.Problems.Count > 0)
            {
                var name = model.Source ?? model.Path;
                throw new ScriptedModelRefusedException(start.Problems.Select(p => p.Replace(model.Path, name, StringComparison.Ordinal)).ToList());
            }

            return (start.InitialWeights!, start.Statistics);
        }

        var descriptor = Dataset.ReadDescriptor(datasetPath);
        return (RecipeCatalog.CreateInitialWeights(recipe, descriptor.SampleShape, descriptor.Classes.Count, seed), []);
    }

    /// <summary>
    /// Runs a prepare task: writes the initial weights to <see cref="ShardTask.OutputPath"/> (metadata naming the run, the
    /// recipe and the kind, as the coordinator always wrote them) and a <see cref="ShardResult"/> to <see cref="ShardTask.ResultPath"/>.
    /// </summary>
    /// <exception cref="ScriptedModelRefusedException">The task's model fails its check; <see cref="TaskRefusal"/> is written to <see cref="ShardTask.ResultPath"/> first.</exception>
    public static ShardResult Run(ShardTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        var clock = Stopwatch.StartNew();
        IReadOnlyList<NamedTensor> weights;
        IReadOnlyList<string> statistics;
        try
        {
            (weights, statistics) = CreateState(task.Recipe, task.Model, task.DatasetPath, task.Seed);
        }
        catch (ScriptedModelRefusedException e)
        {
            File.WriteAllText(task.ResultPath, JsonSerializer.Serialize(new TaskRefusal { Problems = e.Problems }, TaskJson.Options));
            throw;
        }

        var metadata = new Dictionary<string, string>
        {
            ["rmtc.run"] = task.RunId,
            ["rmtc.recipe"] = task.Recipe,
            ["rmtc.kind"] = "initial",
        };
        if (task.Model?.Digest is { } model)
        {
            // The weights name the file they were read from.
            metadata["rmtc.model"] = model;
        }

        if (statistics.Count > 0)
        {
            metadata[WeightsMetadata.Statistics] = WeightsMetadata.FormatStatistics(statistics);
        }

        Safetensors.WriteFile(task.OutputPath, weights, metadata);
        var result = new ShardResult
        {
            Samples = 0,
            FinalLoss = 0,
            EpochLosses = [],
            Seconds = clock.Elapsed.TotalSeconds,
            Device = "cpu",
            TorchSharpVersion = TorchSharpVersion,
        };
        File.WriteAllText(task.ResultPath, JsonSerializer.Serialize(result, TaskJson.Options));
        return result;
    }

    /// <summary>The TorchSharp assembly version this trainer runs (recorded in the run's code record).</summary>
    public static string TorchSharpVersion { get; } =
        typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "";
}
