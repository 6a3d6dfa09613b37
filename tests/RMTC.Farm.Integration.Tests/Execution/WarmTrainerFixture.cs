using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Execution;
using RMTC.Farm.Agent.Execution.Supervision;
using RMTC.Farm.Agent.Execution.Trainer;
using RMTC.Farm.Agent.Execution.Transfers;
using RMTC.Farm.Agent.Execution.Workspace;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Protos.V1;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Integration.Tests.Execution;

/// <summary>
/// Shards run by the agent's runners on real trainer processes (<c>rmtc shard run</c>, <c>rmtc trainer serve</c>) without
/// a coordinator: a small synthesized classifier dataset, its initial weights on disk, assignments made by hand.
/// </summary>
public sealed class WarmTrainerFixture : IAsyncDisposable
{
    public const int Samples = 64;

    private readonly List<IAsyncDisposable> _pools = [];

    public WarmTrainerFixture()
    {
        Root = Directory.CreateTempSubdirectory("rmtc-warm-").FullName;
        Dataset = Path.Combine(Root, "data");
        DatasetSynthesizer.Synthesize("classifier", Dataset, Samples, seed: 7);
        var descriptor = Core.Datasets.Dataset.ReadDescriptor(Dataset);
        Weights = Path.Combine(Root, "initial.safetensors");
        Safetensors.WriteFile(Weights, RecipeCatalog.CreateInitialWeights("classifier", descriptor.SampleShape, descriptor.Classes.Count, seed: 11));
    }

    public string Root { get; }
    public string Dataset { get; }
    public string Weights { get; }

    /// <summary>Agent options with the rmtc CLI as both trainers, <paramref name="mode"/> chosen, a grace of <paramref name="graceMs"/>.</summary>
    public AgentOptions Options(string mode, int graceMs = 10_000) => new()
    {
        WorkDirectory = Path.Combine(Root, "work"),
        TrainerExecutable = RmtcCli.Dotnet,
        TrainerArguments = [RmtcCli.Dll, "shard", "run"],
        ThreadsPerShard = 1,
        CancelGraceMs = graceMs,
        Trainer = new TrainerOptions { Mode = mode, ServeArguments = [RmtcCli.Dll, "trainer", "serve"], CacheBytes = 64L * 1024 * 1024 },
    };

    public WarmTrainerPool Pool(AgentOptions options)
    {
        var pool = new WarmTrainerPool(Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System, NullLogger<WarmTrainerPool>.Instance);
        _pools.Add(pool);
        return pool;
    }

    public static TrainerShardRunner Cold(AgentOptions options) => new(
        new TrainerSupervisor(TimeProvider.System, NullLogger<TrainerSupervisor>.Instance),
        Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System, NullLogger<TrainerShardRunner>.Instance);

    /// <summary>A shard of <paramref name="epochs"/> epochs over samples [first, first + count).</summary>
    public RunningShard Shard(string leaseId, uint round, long seed, int epochs = 2, int first = 0, int count = Samples)
    {
        var a = new Assignment
        {
            LeaseId = leaseId,
            LeaseEpoch = 1,
            RunId = "warm-test",
            Round = round,
            Shard = 0,
            Recipe = "classifier",
            DatasetPath = Dataset,
            Seed = seed,
            Epochs = (uint)epochs,
            BatchSize = 8,
            LearningRate = 0.01,
            Kind = TaskKind.Shard,
        };
        a.SampleIndices.AddRange(Enumerable.Range(first, count).Select(i => (uint)i));
        return new RunningShard { Assignment = a, Cancellation = new CancellationTokenSource() };
    }

    public ShardAttempt Attempt(AgentOptions options, RunningShard shard, string? resume = null) =>
        new(shard, new ShardInputs(Weights, null, resume), ShardWorkspace.For(options.WorkDirectory, shard.Assignment.LeaseId));

    /// <summary>The sha256 of a trained shard's weights file (its metadata names run, round and shard, so equal runs are equal bytes).</summary>
    public static string DigestOf(ShardRunOutcome outcome)
    {
        var trained = Assert.IsType<ShardTrained>(outcome);
        return Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(trained.WeightsPath)));
    }

    /// <summary>Waits until the shard's trainer reported training progress.</summary>
    public static Task TrainingAsync(RunningShard shard) =>
        FarmFixture.WaitUntilAsync(() => shard.Progress.SamplesSeen > 0, TimeSpan.FromMinutes(2), () => $"no progress from the trainer (phase {shard.Phase})");

    public async ValueTask DisposeAsync()
    {
        foreach (var pool in _pools)
        {
            await pool.DisposeAsync();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
