using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Tests;

/// <summary>A round's average depends on which results were merged, never on the order they arrived in.</summary>
public sealed class ShardOrderedFoldTests : IDisposable
{
    private const int Shards = 6;
    private readonly string _dir = TestFiles.TempDir();
    private readonly Dictionary<string, string> _paths = new(StringComparer.Ordinal);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// Results whose float32 sums round differently by order: magnitudes from 1e-3 to 1e7 in every element, so
    /// (a + b) + c differs from (a + c) + b in the last bits.
    /// </summary>
    private string Result(int shard)
    {
        var rng = new Random(1000 + shard);
        var values = new float[4096];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(((rng.NextDouble() * 2) - 1) * Math.Pow(10, rng.Next(-3, 8)));
        }

        var digest = $"shard-{shard}";
        var path = Path.Combine(_dir, digest + ".safetensors");
        Safetensors.WriteFile(path, [NamedTensor.FromFloats("w", [64, 64], values)]);
        _paths[digest] = path;
        return digest;
    }

    private Stream Open(string digest) => File.OpenRead(_paths[digest]);

    private FedAvgAccumulator NewSum()
    {
        using var file = File.OpenRead(_paths.Values.First());
        return new FedAvgAccumulator(Safetensors.ReadHeader(file, file.Length));
    }

    private byte[] Average(IEnumerable<int> arrival, IReadOnlySet<int>? closedWithout = null)
    {
        var sum = NewSum();
        var fold = new ShardOrderedFold();
        foreach (var shard in arrival.Where(s => closedWithout?.Contains(s) != true))
        {
            fold.Offer(shard, $"shard-{shard}", 100 + (shard * 7), sum, Open);
        }

        fold.Flush(sum, Open);
        Assert.Equal(0, fold.Waiting);
        return sum.Finish().Single().Data;
    }

    [Fact]
    public void Every_arrival_order_gives_the_bits_of_shard_order_and_arrival_folding_would_not()
    {
        for (int s = 0; s < Shards; s++)
        {
            Result(s);
        }

        var inOrder = Average(Enumerable.Range(0, Shards));
        var rng = new Random(7);
        for (int trial = 0; trial < 20; trial++)
        {
            var arrival = Enumerable.Range(0, Shards).OrderBy(_ => rng.Next()).ToArray();
            Assert.Equal(inOrder, Average(arrival));
        }

        // The property is not free: folding on arrival, as the merge did before, gives other bits for some order.
        var reversed = NewSum();
        foreach (var shard in Enumerable.Range(0, Shards).Reverse())
        {
            using var file = Open($"shard-{shard}");
            reversed.Add(file, 100 + (shard * 7));
        }

        Assert.NotEqual(inOrder, reversed.Finish().Single().Data);
    }

    [Fact]
    public void A_result_waits_only_for_lower_shards_and_a_round_closing_without_a_shard_folds_past_its_gap()
    {
        for (int s = 0; s < Shards; s++)
        {
            Result(s);
        }

        var sum = NewSum();
        var fold = new ShardOrderedFold();
        Assert.Equal(0, fold.Offer(2, "shard-2", 1, sum, Open));
        Assert.Equal(0, fold.Offer(1, "shard-1", 1, sum, Open));
        Assert.Equal(2, fold.Waiting);
        Assert.Equal(3, fold.Offer(0, "shard-0", 1, sum, Open));
        Assert.Equal(3, sum.Count);
        // Shard 3 is eaten: 4 and 5 wait behind it until the round closes.
        Assert.Equal(0, fold.Offer(5, "shard-5", 1, sum, Open));
        Assert.Equal(0, fold.Offer(4, "shard-4", 1, sum, Open));
        Assert.Equal(2, fold.Flush(sum, Open));
        Assert.Equal(5, sum.Count);
        var plain = NewSum();
        foreach (var shard in new[] { 0, 1, 2, 4, 5 })
        {
            using var file = Open($"shard-{shard}");
            plain.Add(file, 1);
        }

        Assert.Equal(plain.Finish().Single().Data, sum.Finish().Single().Data);
        Assert.Equal(Average([5, 0, 4, 1, 2], closedWithout: new HashSet<int> { 3 }), Average([0, 1, 2, 3, 4, 5], closedWithout: new HashSet<int> { 3 }));
    }

    [Fact]
    public void The_same_shard_twice_in_a_round_is_refused_and_reset_starts_a_new_round()
    {
        Result(0);
        Result(1);
        var sum = NewSum();
        var fold = new ShardOrderedFold();
        fold.Offer(1, "shard-1", 1, sum, Open);
        Assert.Contains("shard 1 was already merged", Assert.Throws<ArgumentException>(() => fold.Offer(1, "shard-1", 1, sum, Open)).Message);
        fold.Offer(0, "shard-0", 1, sum, Open);
        Assert.Throws<ArgumentException>(() => fold.Offer(0, "shard-0", 1, sum, Open));

        fold.Reset();
        var next = NewSum();
        Assert.Equal(1, fold.Offer(0, "shard-0", 1, next, Open));
        Assert.Equal(1, next.Count);
    }

    [Fact]
    public void Check_refuses_what_Add_refuses_without_touching_the_sum()
    {
        Result(0);
        var sum = NewSum();
        var bad = Path.Combine(_dir, "nan.safetensors");
        var values = new float[4096];
        values[77] = float.NaN;
        Safetensors.WriteFile(bad, [NamedTensor.FromFloats("w", [64, 64], values)]);
        using (var file = File.OpenRead(bad))
        {
            Assert.Contains("non-finite value NaN at element 77", Assert.Throws<WeightsRejectedException>(() => sum.Check(file, valuesChecked: false)).Message);
        }

        // Found finite as it arrived: only the header is read, so the caller's word is taken for the values.
        using (var file = File.OpenRead(bad))
        {
            sum.Check(file, valuesChecked: true);
        }

        var wrongShape = Path.Combine(_dir, "shape.safetensors");
        Safetensors.WriteFile(wrongShape, [NamedTensor.FromFloats("w", [32, 128], new float[4096])]);
        using (var file = File.OpenRead(wrongShape))
        {
            Assert.Throws<WeightsRejectedException>(() => sum.Check(file, valuesChecked: true));
        }

        Assert.Equal(0, sum.Count);
        using (var file = File.OpenRead(_paths["shard-0"]))
        {
            sum.Check(file, valuesChecked: false);
        }
    }
}
