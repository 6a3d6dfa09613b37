using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Merging;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Integration.Tests;

/// <summary>A run's merging on its own, without a scheduler or a server: a file artifact store and weights written to it.</summary>
public sealed class RoundMergeTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rmtc-merge-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly FileArtifactStore _artifacts;

    public RoundMergeTests() => _artifacts = new FileArtifactStore(Options.Create(new CoordinatorOptions { DataDirectory = _dir }));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Put(params float[] values) => _artifacts.PutWeights([NamedTensor.FromFloats("w", [values.Length], values)]).Digest;

    private float[] Read(string digest) => _artifacts.ReadWeights(digest).Tensors.Single().AsFloat32().ToArray();

    private RoundMerge Merge(string strategy = MergeStrategies.FedAvg, double outerRate = 0.7, double momentum = 0.9, int size = 2)
    {
        var merge = new RoundMerge(_artifacts, "run-1", "classifier", new MergeSpec { Strategy = strategy, OuterLearningRate = outerRate, Momentum = momentum });
        merge.StartRound(_artifacts.ReadWeightsHeader(Put(new float[size])));
        return merge;
    }

    [Fact]
    public void FedAvg_weights_each_result_by_its_samples_and_stores_the_average_named_for_the_run_and_round()
    {
        var merge = Merge();
        merge.Add(2, Put(3, 30), 1, valuesChecked: false);
        Assert.Equal(1, merge.Waiting);
        merge.Add(0, Put(1, 10), 3, valuesChecked: false);
        merge.Add(1, Put(2, 20), 2, valuesChecked: true);
        Assert.Equal(0, merge.Waiting);

        var input = Put(9, 9);
        var closed = merge.Close(4, input);
        Assert.Equal([(1 * 3 + 2 * 2 + 3 * 1) / 6f, (10 * 3 + 20 * 2 + 30 * 1) / 6f], Read(closed.Digest));
        Assert.Equal(_artifacts.SizeOf(closed.Digest), closed.Bytes);
        Assert.Null(closed.MomentumDigest);
        var metadata = _artifacts.ReadWeights(closed.Digest).Metadata;
        Assert.Equal("run-1", metadata["rmtc.run"]);
        Assert.Equal("4", metadata["rmtc.round"]);
        Assert.Equal(input, metadata["rmtc.input"]);
        Assert.Equal(TensorsDigest.Of(_artifacts.ReadWeights(closed.Digest).Tensors), closed.TensorsDigest);
        Assert.False(merge.IsOpen);
    }

    [Fact]
    public void A_result_that_does_not_fit_is_refused_without_touching_the_sum_and_a_closed_run_takes_nothing()
    {
        var merge = Merge();
        merge.Add(0, Put(1, 1), 1, valuesChecked: false);
        Assert.Contains("non-finite value NaN", Assert.Throws<WeightsRejectedException>(() => merge.Add(1, Put(float.NaN, 1), 1, valuesChecked: false)).Message);
        Assert.Throws<WeightsRejectedException>(() => merge.Add(1, Put(1, 2, 3), 1, valuesChecked: true));
        merge.Add(1, Put(3, 3), 1, valuesChecked: false);
        Assert.Equal([2f, 2f], Read(merge.Close(1, Put(0, 0)).Digest));

        merge.Release();
        Assert.False(merge.IsOpen);
        Assert.Contains("no open round", Assert.Throws<InvalidOperationException>(() => merge.Add(0, Put(1, 1), 1, valuesChecked: false)).Message);
    }

    [Fact]
    public void A_rebuilt_round_has_the_bits_of_one_that_only_ever_held_those_results()
    {
        var results = Enumerable.Range(0, 5).Select(i => Put(0.1f * (i + 1), 1e6f / (i + 3), -7.3f * i)).ToArray();
        var direct = Merge(size: 3);
        foreach (var i in new[] { 0, 1, 3, 4 })
        {
            direct.Add(i, results[i], 10 + i, valuesChecked: false);
        }

        // Shard 2 merged, then taken back out (a frame retried): the sum is rebuilt from the others.
        var rebuilt = Merge(size: 3);
        foreach (var i in new[] { 4, 2, 0, 1, 3 })
        {
            rebuilt.Add(i, results[i], 10 + i, valuesChecked: false);
        }

        rebuilt.Rebuild(new[] { 4, 0, 3, 1 }.Select(i => (i, results[i], 10.0 + i)));
        Assert.Equal(Read(direct.Close(1, Put(0, 0, 0)).Digest), Read(rebuilt.Close(1, Put(0, 0, 0)).Digest));
    }

    [Fact]
    public void Nesterov_steps_the_global_weights_keeps_its_momentum_across_rounds_and_stores_it()
    {
        var merge = Merge(MergeStrategies.Nesterov, outerRate: 0.5, momentum: 0.5);
        var global = Put(1, 1);
        merge.Add(0, Put(0, 2), 1, valuesChecked: false);
        var first = merge.Close(1, global);
        Assert.NotNull(first.MomentumDigest);
        var afterOne = Read(first.Digest);
        Assert.NotEqual([0f, 2f], afterOne);

        merge.StartRound(_artifacts.ReadWeightsHeader(first.Digest));
        merge.Add(0, first.Digest, 1, valuesChecked: false);
        var second = merge.Close(2, first.Digest);
        // The same average as its input: only the momentum carried from round 1 moves the weights.
        Assert.NotEqual(afterOne, Read(second.Digest));
        Assert.NotEqual(first.MomentumDigest, second.MomentumDigest);
    }

    [Fact]
    public void Nesterov_takes_running_statistics_as_averaged_and_carries_their_names_to_the_next_round()
    {
        // A variance whose average fell by more than half: extrapolated, it would turn negative and break BatchNorm.
        var metadata = new Dictionary<string, string> { [WeightsMetadata.Statistics] = "bn.running_var" };
        NamedTensor[] Model(float weight, float variance) => [NamedTensor.FromFloats("bn.running_var", [1], [variance]), NamedTensor.FromFloats("conv.weight", [1], [weight])];
        var global = _artifacts.PutWeights(Model(1, 1), metadata).Digest;
        var merge = new RoundMerge(_artifacts, "run-1", "torchscript", new MergeSpec { Strategy = MergeStrategies.Nesterov, OuterLearningRate = 2, Momentum = 0 });
        merge.StartRound(_artifacts.ReadWeightsHeader(global));
        merge.Add(0, _artifacts.PutWeights(Model(0.5f, 0.2f)).Digest, 1, valuesChecked: false);
        var round = merge.Close(1, global);

        var (tensors, stored) = _artifacts.ReadWeights(round.Digest);
        Assert.Equal(0.2f, tensors.Single(t => t.Name == "bn.running_var").AsFloat32()[0]);
        // The learned weight takes the outer step: 1 - 2 * (1 - 0.5).
        Assert.Equal(0f, tensors.Single(t => t.Name == "conv.weight").AsFloat32()[0]);
        Assert.Equal("bn.running_var", stored[WeightsMetadata.Statistics]);
    }
}
