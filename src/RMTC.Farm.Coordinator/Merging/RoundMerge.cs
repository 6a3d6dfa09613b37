using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Coordinator.Merging;

/// <summary>What closing a round made: the stored merged weights and, for nesterov, the stored server momentum.</summary>
/// <param name="Digest">The merged weights file (its metadata names the run and round).</param>
/// <param name="Bytes">That file's size.</param>
/// <param name="TensorsDigest">The digest of the tensors alone (<see cref="Core.Weights.TensorsDigest"/>): equal for two runs that trained the same weights.</param>
/// <param name="MomentumDigest">The server momentum after this round (nesterov), or null.</param>
public sealed record MergedRound(string Digest, long Bytes, string TensorsDigest, string? MomentumDigest);

/// <summary>
/// One run's merging, apart from scheduling: the current round's running sum (fed in shard order), the merge strategy
/// applied when the round closes, and the stored weights it makes. The scheduler decides when a result counts and when a
/// round closes; this class does the arithmetic and the writes, outside the scheduler's lock.
/// </summary>
/// <remarks>
/// Not thread-safe by itself: every call is made holding <see cref="Gate"/>, which serialises a run's merges, its
/// round closing and the release of its arrays. Memory is one model for the sum plus, between rounds, the spent average
/// whose arrays the next sum reuses, plus the momentum for nesterov.
/// </remarks>
public sealed class RoundMerge(IArtifactStore artifacts, string runId, string recipe, MergeSpec merge)
{
    private readonly ShardOrderedFold _folds = new();
    private FedAvgAccumulator? _sum;
    private IReadOnlyList<NamedTensor>? _spentAverage;
    private IReadOnlyList<NamedTensor>? _momentum;
    private SafetensorsHeader? _template;

    /// <summary>Held around every other call: one merge or close of this run at a time.</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    /// <summary>False once <see cref="Release"/> dropped the arrays (the run ended): results that waited for the gate are stale.</summary>
    public bool IsOpen => _sum is not null;

    /// <summary>Results accepted this round but not yet folded (a lower shard is still out).</summary>
    public int Waiting => _folds.Waiting;

    /// <summary>Starts a round's sum for weights shaped as <paramref name="template"/> (the run's model), reusing the last round's arrays.</summary>
    public void StartRound(SafetensorsHeader template)
    {
        ArgumentNullException.ThrowIfNull(template);
        _template = template;
        _sum = new FedAvgAccumulator(template, _spentAverage);
        _spentAverage = null;
        _folds.Reset();
    }

    /// <summary>The server momentum a recovered nesterov run had after its last closed round.</summary>
    public void RestoreMomentum(IReadOnlyList<NamedTensor> momentum) => _momentum = momentum;

    /// <summary>
    /// Checks a stored result against the model (names, dtypes, shapes; every value finite unless
    /// <paramref name="valuesChecked"/>, as found while it arrived) and takes it into the round: folded at once when every
    /// lower shard is, else when they are or at the close.
    /// </summary>
    /// <exception cref="WeightsRejectedException">The result does not fit the model or holds a non-finite value; the sum is untouched.</exception>
    /// <exception cref="SafetensorsFormatException">The stored file is not safetensors.</exception>
    public void Add(int shard, string digest, double weight, bool valuesChecked)
    {
        var sum = Sum();
        using (var result = artifacts.OpenRead(digest))
        {
            sum.Check(result, valuesChecked);
        }

        _folds.Offer(shard, digest, weight, sum, Open);
    }

    /// <summary>
    /// Starts the round's sum again from <paramref name="results"/> (shard, stored result, weight), each checked in full:
    /// a recovered run's open round, or a round a merged result was taken out of (a frame retried).
    /// </summary>
    public void Rebuild(IEnumerable<(int Shard, string Digest, double Weight)> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        _sum = new FedAvgAccumulator(_template ?? throw new InvalidOperationException("no round was started"));
        _folds.Reset();
        foreach (var (shard, digest, weight) in results.OrderBy(r => r.Shard))
        {
            Add(shard, digest, weight, valuesChecked: false);
        }
    }

    /// <summary>
    /// Closes the round: folds what still waits, averages, applies the strategy (nesterov steps the global weights
    /// <paramref name="globalDigest"/> with the server momentum) and stores the merged weights, named for the run and round.
    /// </summary>
    public MergedRound Close(int round, string globalDigest)
    {
        var sum = Sum();
        _folds.Flush(sum, Open);
        var average = sum.Finish();
        IReadOnlyList<NamedTensor> merged = average;
        string? momentumDigest = null;
        // Which tensors are running statistics: recorded by the run's initial weights, carried round to round.
        var globalMetadata = artifacts.ReadWeightsHeader(globalDigest).Metadata;
        var statistics = globalMetadata.GetValueOrDefault(WeightsMetadata.Statistics);
        if (merge.Strategy == MergeStrategies.Nesterov)
        {
            var global = artifacts.ReadWeights(globalDigest).Tensors;
            _momentum ??= global.Select(t => new NamedTensor(t.Name, t.DType, t.Shape, new byte[t.Data.Length])).ToList();
            NesterovOuterOptimizer.Step(global, average, _momentum, (float)merge.OuterLearningRate, (float)merge.Momentum, WeightsMetadata.ReadStatistics(globalMetadata));
            merged = global;
            momentumDigest = artifacts.PutWeights(_momentum, new Dictionary<string, string> { ["rmtc.run"] = runId, ["rmtc.kind"] = "momentum" }).Digest;
        }

        var metadata = new Dictionary<string, string>
        {
            ["rmtc.run"] = runId,
            ["rmtc.round"] = round.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["rmtc.merge"] = merge.Strategy,
            ["rmtc.input"] = globalDigest,
            ["rmtc.recipe"] = recipe,
        };
        if (statistics is not null)
        {
            metadata[WeightsMetadata.Statistics] = statistics;
        }

        var (digest, bytes) = artifacts.PutWeights(merged, metadata);

        // Written out and no longer needed (nesterov folded it into the global weights): the next round's sum reuses its arrays.
        _spentAverage = average;
        _sum = null;
        return new MergedRound(digest, bytes, TensorsDigest.Of(merged), momentumDigest);
    }

    /// <summary>
    /// Drops every array (sum, spent average, momentum): the run ended, and a coordinator serving for months must not keep
    /// a model's worth of memory for every run it has finished.
    /// </summary>
    public void Release()
    {
        _sum = null;
        _spentAverage = null;
        _momentum = null;
        _folds.Reset();
    }

    private FedAvgAccumulator Sum() => _sum ?? throw new InvalidOperationException($"run {runId} has no open round to merge into");

    private Stream Open(string digest) => artifacts.OpenRead(digest);
}
