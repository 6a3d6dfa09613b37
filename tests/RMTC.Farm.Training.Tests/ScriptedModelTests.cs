using System.Runtime.InteropServices;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Recipes;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Tests;

/// <summary>
/// PyTorch models scripted to TorchScript (the committed files in farm/models) trained through the same loop as the
/// built-in recipes, on real TorchSharp: their full state (BatchNorm buffers included), training, exact weights
/// round trips and exact checkpoint/resume.
/// </summary>
public class ScriptedModelTests(ITestOutputHelper output)
{
    internal static string Models { get; } = Path.Combine(RepoRoot(), "farm", "models");

    internal static ScriptedModel Classifier => new() { Path = Path.Combine(Models, "resnet_classifier_synth.pt"), Task = DatasetKinds.LabelledImages, Loss = ModelLosses.CrossEntropy };

    internal static ScriptedModel Denoiser => new() { Path = Path.Combine(Models, "unet_denoiser.pt"), Task = DatasetKinds.ImagePairs, Loss = ModelLosses.L1 };

    [Fact]
    public void A_scripted_model_exposes_its_parameters_and_BatchNorm_buffers_as_named_tensors()
    {
        var state = RecipeCatalog.CreateInitialWeights(Classifier);
        var names = state.Select(t => t.Name).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Contains("stem.weight", names);
        Assert.Contains("layer2.shortcut.0.weight", names);
        var mean = state.Single(t => t.Name == "bn.running_mean");
        Assert.Equal(TensorDType.F32, mean.DType);
        Assert.Equal([16L], mean.Shape);
        Assert.All(state.Single(t => t.Name == "bn.running_var").AsFloat32().ToArray(), v => Assert.Equal(1f, v));
        var tracked = state.Single(t => t.Name == "layer1.bn2.num_batches_tracked");
        Assert.Equal(TensorDType.I64, tracked.DType);
        Assert.Empty(tracked.Shape);
        // 5 BatchNorms (bn, layer1.bn1/bn2, layer2.bn1/bn2, layer2.shortcut.1): 6 in all, each with 3 buffers.
        Assert.Equal(6, names.Count(n => n.EndsWith(".num_batches_tracked", StringComparison.Ordinal)));
        output.WriteLine(string.Join(", ", state));
    }

    [Fact]
    public void Training_changes_the_parameters_and_the_running_statistics()
    {
        using var dir = new TempDirectory();
        var data = Synth(dir, "classifier", 64);
        var initial = RecipeCatalog.CreateInitialWeights(Classifier);
        var trained = LocalTrainer.Run(Request(data, initial, Classifier, batchSize: 16), null, CancellationToken.None);

        Assert.Equal(initial.Select(t => t.Name), trained.Select(t => t.Name));
        Assert.NotEqual(initial.Single(t => t.Name == "stem.weight").Data, trained.Single(t => t.Name == "stem.weight").Data);
        Assert.NotEqual(initial.Single(t => t.Name == "bn.running_mean").Data, trained.Single(t => t.Name == "bn.running_mean").Data);
        Assert.NotEqual(initial.Single(t => t.Name == "layer2.bn2.running_var").Data, trained.Single(t => t.Name == "layer2.bn2.running_var").Data);
        // 64 samples in batches of 16: four training-mode forward passes.
        var before = MemoryMarshal.Read<long>(initial.Single(t => t.Name == "bn.num_batches_tracked").Data);
        Assert.Equal(before + 4, MemoryMarshal.Read<long>(trained.Single(t => t.Name == "bn.num_batches_tracked").Data));
        Assert.Equal(TensorDType.I64, trained.Single(t => t.Name == "bn.num_batches_tracked").DType);
    }

    [Fact]
    public void Weights_saved_and_loaded_back_into_a_scripted_model_round_trip_bit_for_bit()
    {
        using var dir = new TempDirectory();
        var data = Synth(dir, "denoiser", 16);
        var trained = LocalTrainer.Run(Request(data, RecipeCatalog.CreateInitialWeights(Denoiser), Denoiser, batchSize: 8), null, CancellationToken.None);
        var file = dir.Combine("trained.safetensors");
        Safetensors.WriteFile(file, trained);
        var read = Safetensors.ReadFile(file).Tensors;

        using var model = RecipeCatalog.Resolve(ScriptedModelRecipe.RecipeName, Denoiser).CreateModel([3, 32, 32], 0);
        TorchWeights.Load(model, read);
        var again = TorchWeights.Export(model);
        Assert.Equal(trained.Select(t => (t.Name, t.DType)), again.Select(t => (t.Name, t.DType)));
        for (var i = 0; i < trained.Count; i++)
        {
            Assert.True(trained[i].Data.AsSpan().SequenceEqual(again[i].Data), $"tensor {trained[i].Name} differs after a round trip");
        }
    }

    [Fact]
    public void Integer_buffers_are_refused_as_floats_naming_the_tensor()
    {
        using var model = RecipeCatalog.Resolve(ScriptedModelRecipe.RecipeName, Classifier).CreateModel([1, 16, 16], 4);
        var state = TorchWeights.Export(model)
            .Select(t => t.Name == "bn.num_batches_tracked" ? NamedTensor.FromFloats(t.Name, t.Shape, [0f]) : t)
            .ToList();
        var e = Assert.Throws<WeightsMismatchException>(() => TorchWeights.Load(model, state));
        Assert.Contains("'bn.num_batches_tracked' is F32, expected I64", e.Message);
    }

    [Theory]
    [InlineData("classifier", "adam", 0.0, 0.0, 150)]
    [InlineData("classifier", "sgd", 0.9, 1e-4, 40)]
    [InlineData("denoiser", "sgd", 0.5, 0.0, 100)]
    public void A_scripted_shard_preempted_and_resumed_ends_bit_for_bit_where_an_uninterrupted_one_does(string kind, string optimizer, double momentum, double weightDecay, long yieldAfterSamples)
    {
        using var dir = new TempDirectory();
        var model = kind == "classifier" ? Classifier : Denoiser;
        var data = Synth(dir, kind, 100);
        var initialPath = dir.Combine("initial.safetensors");
        Safetensors.WriteFile(initialPath, RecipeCatalog.CreateInitialWeights(model));
        var task = new ShardTask
        {
            RunId = "run-s",
            Round = 1,
            Shard = 0,
            Recipe = ScriptedModelRecipe.RecipeName,
            Model = model,
            Optimizer = new OptimizerSettings { Name = optimizer, Momentum = momentum, WeightDecay = weightDecay },
            DatasetPath = data,
            SampleIndices = Enumerable.Range(0, 100).ToArray(),
            InitialWeightsPath = initialPath,
            Seed = 17,
            Epochs = 2,
            BatchSize = 16,
            LearningRate = kind == "classifier" ? 0.01 : 0.001,
            OutputPath = dir.Combine("out", "weights.safetensors"),
            ResultPath = dir.Combine("out", "result.json"),
            Device = "cpu",
            Threads = 1,
        };

        var whole = ShardTrainer.Run(task with { OutputPath = dir.Combine("whole.safetensors"), ResultPath = dir.Combine("whole.json") }, null, CancellationToken.None);
        var checkpoint = dir.Combine("checkpoint.safetensors");
        var yielded = Assert.Throws<ShardYieldedException>(() => RunUntil(task with { CheckpointPath = checkpoint }, yieldAfterSamples));
        Assert.True(yielded.Report.SamplesSeen < yielded.Report.SamplesTotal);
        var resumed = ShardTrainer.Run(task with { ResumeCheckpointPath = checkpoint }, null, CancellationToken.None);

        output.WriteLine($"{kind}/{optimizer}: yielded at {yielded.Report.SamplesSeen} of {yielded.Report.SamplesTotal}; losses {string.Join(", ", resumed.EpochLosses)}");
        Assert.Equal(whole.EpochLosses, resumed.EpochLosses);
        var expected = Safetensors.ReadFile(dir.Combine("whole.safetensors")).Tensors;
        var actual = Safetensors.ReadFile(task.OutputPath).Tensors;
        Assert.Equal(expected.Select(t => (t.Name, t.DType)), actual.Select(t => (t.Name, t.DType)));
        Assert.Contains(actual, t => t.Name.EndsWith(".num_batches_tracked", StringComparison.Ordinal) && t.DType == TensorDType.I64);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].Data.AsSpan().SequenceEqual(actual[i].Data), $"{kind}: tensor {expected[i].Name} differs after resuming");
        }

        // The optimiser's state only fits the optimiser that wrote it.
        var other = new OptimizerSettings { Name = optimizer == "adam" ? "sgd" : "adam" };
        var e = Assert.Throws<WeightsMismatchException>(() => ShardTrainer.Run(task with { ResumeCheckpointPath = checkpoint, Optimizer = other }, null, CancellationToken.None));
        Assert.Contains($"checkpoint {checkpoint} is for optimizer", e.Message);
    }

    [Fact]
    public void The_default_optimiser_is_the_Adam_every_shard_used_before_the_setting_existed_step_for_step()
    {
        using var dir = new TempDirectory();
        var data = Synth(dir, "classifier", 48);
        var descriptor = Dataset.ReadDescriptor(data);
        var initial = RecipeCatalog.CreateInitialWeights("classifier", descriptor.SampleShape, descriptor.Classes.Count, 3);
        var viaRequest = LocalTrainer.Run(Request(data, initial, null, batchSize: 16) with { Recipe = "classifier" }, null, CancellationToken.None);

        // Today's construction, written out: optim.Adam(parameters, lr) with nothing else.
        var recipe = RecipeCatalog.Get("classifier");
        var (_, samples) = ShardTrainer.LoadShard(recipe, data, Enumerable.Range(0, 48).ToArray(), CancellationToken.None);
        using var model = recipe.CreateModel(descriptor.SampleShape, descriptor.Classes.Count);
        TorchWeights.Load(model, initial);
        model.train();
        using var inputs = ShardTrainer.InputsTensor(samples, CPU);
        using var targets = ShardTrainer.TargetsTensor(samples, CPU);
        using var adam = TorchSharp.torch.optim.Adam(model.parameters(), 0.01);
        var order = Enumerable.Range(0, 48).Select(i => (long)i).ToArray();
        ShardTrainer.TrainEpoch(model, recipe, adam, inputs, targets, order, 16, 9, 0, CPU, CancellationToken.None);
        var reference = TorchWeights.Export(model);

        for (var i = 0; i < reference.Count; i++)
        {
            Assert.True(reference[i].Data.AsSpan().SequenceEqual(viaRequest[i].Data), $"tensor {reference[i].Name} differs from plain Adam");
        }
    }

    [Fact]
    public void An_unknown_optimiser_or_a_momentum_for_adam_is_refused_by_name()
    {
        using var dir = new TempDirectory();
        var data = Synth(dir, "classifier", 16);
        var initial = RecipeCatalog.CreateInitialWeights(Classifier);
        var e = Assert.Throws<ArgumentException>(() => LocalTrainer.Run(Request(data, initial, Classifier, 16) with { Optimizer = new OptimizerSettings { Name = "lbfgs" } }, null, CancellationToken.None));
        Assert.Contains("unknown optimizer 'lbfgs' (use adam or sgd)", e.Message);
        e = Assert.Throws<ArgumentException>(() => LocalTrainer.Run(Request(data, initial, Classifier, 16) with { Optimizer = new OptimizerSettings { Momentum = 0.9 } }, null, CancellationToken.None));
        Assert.Contains("adam takes no momentum", e.Message);
    }

    internal static string Synth(TempDirectory dir, string recipe, int samples)
    {
        var data = dir.Combine("data-" + recipe);
        DatasetSynthesizer.Synthesize(recipe, data, samples, 5);
        return data;
    }

    private static LocalTrainingRequest Request(string data, IReadOnlyList<NamedTensor> initial, ScriptedModel? model, int batchSize) => new()
    {
        Recipe = ScriptedModelRecipe.RecipeName,
        Model = model,
        DatasetPath = data,
        TrainIndices = Enumerable.Range(0, Dataset.ListSamples(data).Count).ToArray(),
        InitialWeights = initial,
        BatchSize = batchSize,
        LearningRate = 0.01,
        Seed = 9,
        Device = "cpu",
        Threads = 1,
    };

    private static ShardResult RunUntil(ShardTask task, long samples)
    {
        using var yieldNow = new CancellationTokenSource();
        var progress = new SyncProgress<TrainingProgress>(p =>
        {
            if (p.SamplesSeen >= samples)
            {
                yieldNow.Cancel();
            }
        });
        return ShardTrainer.Run(task, progress, CancellationToken.None, yieldNow.Token);
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
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
