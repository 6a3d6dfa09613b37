using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Planning;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Cli.Commands;

/// <summary>
/// <c>rmtc train --local JOB.yaml</c>: the job's recipe, data (held-out splits and exclude_assets respected) and total
/// epochs (rounds x local epochs) trained in this process, no farm: the baseline to compare a farm run with.
/// </summary>
internal static class TrainCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Create()
    {
        var spec = new Argument<FileInfo>("JOB") { Description = "Job spec (YAML), the same file you would submit" };
        var local = new Option<bool>("--local") { Description = "Train in this process without a farm (the only mode for now)", Required = true };
        var output = new Option<FileInfo?>("--out", "-o") { Description = "Write the trained model here (safetensors)" };
        var threads = new Option<int>("--threads") { Description = "Torch intra-op threads (0: library default)" };
        var device = new Option<string>("--device") { Description = "auto (CUDA when present), cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON (rounds with loss, accuracy or PSNR, seconds)" };
        var command = new Command("train",
            "Train a job spec in one process (--local): same recipe, data and epoch budget as the farm, evaluated after every round on the same held-out split. The baseline for a farm run.")
        {
            spec, local, output, threads, device, json,
        };
        command.SetAction((parse, ct) => Task.FromResult(Run(parse.GetRequiredValue(spec), parse.GetValue(output), parse.GetValue(threads), parse.GetRequiredValue(device), parse.GetValue(json), ct)));
        return command;
    }

    private static int Run(FileInfo file, FileInfo? output, int threads, string device, bool json, CancellationToken ct)
    {
        JobSpec spec;
        Dataset dataset;
        TrainingData data;
        try
        {
            spec = JobSpecParser.Parse(File.ReadAllText(file.FullName), file.Name, file.DirectoryName ?? Environment.CurrentDirectory, RecipeCatalog.Names,
                target: JobSpecTarget.Local);
            // A scripted model's dataset is made like the built-in recipe of the same task's (for the error's `dataset synth` hint).
            dataset = Dataset.Open(spec.Dataset, spec.Model switch
            {
                null => spec.Recipe,
                { Task: DatasetKinds.ImagePairs } => "denoiser",
                _ => "classifier",
            });
            var excluded = spec.ExcludeAssets.ToHashSet(StringComparer.Ordinal);
            data = TrainingData.Select(new Dataset
            {
                Directory = dataset.Directory,
                Descriptor = dataset.Descriptor,
                Samples = dataset.Samples.Where(a => !excluded.Contains(a.Sha256)).ToList(),
                Digest = dataset.Digest,
            }, spec.Evaluation?.Split);
        }
        catch (Exception e) when (e is JobSpecException or DatasetException or IOException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }

        var scripted = spec.Model?.ToScriptedModel();
        if (scripted is not null)
        {
            // The same check a farm submission will run before any shard is scheduled.
            var problems = ScriptedModelCheck.Check(scripted, dataset.Directory);
            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    Console.Error.WriteLine($"error: {problem}");
                }

                return 2;
            }
        }

        var index = dataset.Samples.Select((a, i) => (a.RelativePath, i)).ToDictionary(p => p.RelativePath, p => p.i, StringComparer.Ordinal);
        var d = dataset.Descriptor;
        var clock = Stopwatch.StartNew();
        var rounds = new List<LocalRoundReport>();
        if (!json)
        {
            Console.WriteLine($"local {spec.Model?.File ?? spec.Recipe} on {d.Name}: {data.Train.Count} training samples, {(spec.Local.EffectiveRoundsPerEpoch > 1 ? $"{spec.Rounds / spec.Local.EffectiveRoundsPerEpoch} epochs (the farm's {spec.Rounds} rounds of 1/{spec.Local.EffectiveRoundsPerEpoch} epoch)" : $"{spec.Rounds} rounds x {spec.Local.Epochs} epochs")}, evaluated on {(data.EvaluationSplit is null ? "nothing" : $"{data.EvaluationSplit} ({data.Evaluation.Count} samples)")}");
        }

        try
        {
            var weights = LocalTrainer.Run(new LocalTrainingRequest
            {
                Recipe = spec.Recipe,
                Model = scripted,
                Optimizer = spec.Local.EffectiveOptimizer,
                DatasetPath = dataset.Directory,
                TrainIndices = data.Train.Select(a => index[a.RelativePath]).ToArray(),
                EvaluationIndices = data.Evaluation.Select(a => index[a.RelativePath]).ToArray(),
                InitialWeights = scripted is not null
                    ? RecipeCatalog.CreateInitialWeights(scripted)
                    : RecipeCatalog.CreateInitialWeights(spec.Recipe, d.SampleShape, d.Classes.Count, RunSeeds.Init(spec.Seed)),
                // An epoch spread over several farm rounds is one round here: the same epochs, shuffles and learning
                // rates, evaluated once per epoch.
                Rounds = spec.Rounds / spec.Local.EffectiveRoundsPerEpoch,
                EpochsPerRound = spec.Local.Epochs,
                BatchSize = spec.Local.BatchSize,
                LearningRate = spec.Local.LearningRate,
                LearningRateSchedule = spec.Local.LearningRateSchedule ?? Core.Training.LearningRateSchedules.Constant,
                FinalLearningRate = spec.Local.EffectiveFinalLearningRate,
                FlipRotate = spec.Local.FlipRotate,
                Seed = RunSeeds.Local(spec.Seed),
                Device = device,
                Threads = threads,
            }, new SyncProgress(r =>
            {
                rounds.Add(r);
                if (!json)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{clock.Elapsed.TotalSeconds,7:F1} s] round {r.Round}/{spec.Rounds / spec.Local.EffectiveRoundsPerEpoch}: train loss {r.TrainLoss:G4}{Describe(r.Evaluation)}"));
                }
            }), ct);
            if (output is not null)
            {
                Safetensors.WriteFile(output.FullName, weights, new Dictionary<string, string> { ["recipe"] = spec.Recipe, ["rmtc.kind"] = "local" });
            }
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
        catch (Exception e) when (e is DatasetException or ArgumentException or InvalidOperationException or WeightsMismatchException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                recipe = spec.Recipe,
                dataset = d.Name,
                trainSamples = data.Train.Count,
                evaluationSplit = data.EvaluationSplit,
                rounds,
                seconds = clock.Elapsed.TotalSeconds,
            }, Json));
        }
        else
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done in {clock.Elapsed.TotalSeconds:F1} s{(output is null ? "" : $": model {output.FullName}")}"));
        }

        return 0;
    }

    /// <summary>", test loss 0.41, accuracy 85.20 %" or the PSNR form; empty without an evaluation.</summary>
    internal static string Describe(EvaluationResult? e) => e is null
        ? ""
        : string.Create(CultureInfo.InvariantCulture, $", eval loss {e.Loss:G4}{(e.Accuracy is { } a ? $", accuracy {a * 100:F2} %" : "")}{(e.Psnr is { } p ? $", PSNR {p:F2} dB" : "")}");

    private sealed class SyncProgress(Action<LocalRoundReport> report) : IProgress<LocalRoundReport>
    {
        public void Report(LocalRoundReport value) => report(value);
    }
}
