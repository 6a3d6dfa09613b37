using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Tests;

public sealed class FedAvgAccumulatorTests
{
    /// <summary>How a result reaches the accumulator.</summary>
    public enum Source { InMemory, ChunkedStream, ExposedMemoryStream, File }

    // Sizes around vector widths and larger than one 256 KiB chunk (65,536 floats).
    private static readonly long[][] Shapes =
    [
        [],
        [1],
        [7],
        [3, 11],
        [0, 5],
        [1000],
        [70_001],
        [3, 65_537],
    ];

    private static List<NamedTensor> RandomModel(Random rng, long[][] shapes)
    {
        var model = new List<NamedTensor>();
        for (int i = 0; i < shapes.Length; i++)
        {
            long count = 1;
            foreach (long d in shapes[i])
            {
                count *= d;
            }

            var values = new float[count];
            for (int j = 0; j < values.Length; j++)
            {
                values[j] = (float)((rng.NextDouble() * 2) - 1) * (i + 1);
            }

            model.Add(NamedTensor.FromFloats($"layer{i}.weight", shapes[i], values));
        }

        return model;
    }

    private static SafetensorsHeader HeaderOf(IReadOnlyList<NamedTensor> model)
    {
        using var ms = new MemoryStream();
        Safetensors.Write(ms, model);
        ms.Position = 0;
        return Safetensors.ReadHeader(ms, ms.Length);
    }

    private static byte[] Bytes(IReadOnlyList<NamedTensor> model)
    {
        using var ms = new MemoryStream();
        Safetensors.Write(ms, model);
        return ms.ToArray();
    }

    private static void AddVia(FedAvgAccumulator acc, Source source, IReadOnlyList<NamedTensor> result, double weight, string dir)
    {
        switch (source)
        {
            case Source.InMemory:
                acc.Add(result, weight);
                break;
            case Source.ChunkedStream:
                // A MemoryStream over a fixed array does not expose its buffer: read in chunks like a file.
                using (var ms = new MemoryStream(Bytes(result)))
                {
                    acc.Add(ms, weight);
                }

                break;
            case Source.ExposedMemoryStream:
                using (var ms = new MemoryStream())
                {
                    ms.Write(new byte[13]); // the result starts at the stream's current position, not at 0
                    Safetensors.Write(ms, result);
                    ms.Position = 13;
                    acc.Add(ms, weight);
                }

                break;
            case Source.File:
                string path = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".safetensors");
                Safetensors.WriteFile(path, result);
                using (var fs = File.OpenRead(path))
                {
                    acc.Add(fs, weight);
                }

                break;
        }
    }

    [Theory]
    [InlineData(1, Source.InMemory)]
    [InlineData(3, Source.InMemory)]
    [InlineData(7, Source.InMemory)]
    [InlineData(1, Source.ChunkedStream)]
    [InlineData(3, Source.ChunkedStream)]
    [InlineData(7, Source.ChunkedStream)]
    [InlineData(3, Source.ExposedMemoryStream)]
    [InlineData(7, Source.ExposedMemoryStream)]
    [InlineData(3, Source.File)]
    public void Average_MatchesADoublePrecisionReference(int k, Source source)
    {
        var rng = new Random(100 + k);
        var results = new List<List<NamedTensor>>();
        var weights = new double[k];
        for (int r = 0; r < k; r++)
        {
            results.Add(RandomModel(rng, Shapes));
            weights[r] = rng.Next(1, 500);
        }

        string dir = TestFiles.TempDir();
        IReadOnlyList<NamedTensor> average;
        try
        {
            var acc = new FedAvgAccumulator(HeaderOf(results[0]));
            for (int r = 0; r < k; r++)
            {
                AddVia(acc, source, results[r], weights[r], dir);
            }

            Assert.Equal(k, acc.Count);
            Assert.Equal(weights.Sum(), acc.TotalWeight);
            average = acc.Finish();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        Assert.Equal(Shapes.Length, average.Count);
        double totalWeight = weights.Sum();
        for (int t = 0; t < Shapes.Length; t++)
        {
            Assert.Equal(results[0][t].Name, average[t].Name);
            Assert.Equal(TensorDType.F32, average[t].DType);
            Assert.Equal(Shapes[t], average[t].Shape);
            var actual = average[t].AsFloat32();
            for (int i = 0; i < actual.Length; i++)
            {
                double sum = 0, magnitude = 0;
                for (int r = 0; r < k; r++)
                {
                    double x = results[r][t].AsFloat32()[i];
                    sum += weights[r] * x;
                    magnitude += weights[r] * Math.Abs(x);
                }

                double expected = sum / totalWeight;
                double tolerance = (1e-5 * magnitude / totalWeight) + 1e-30;
                if (Math.Abs(actual[i] - expected) > tolerance)
                {
                    Assert.Fail($"tensor {t} element {i}: expected {expected}, got {actual[i]} (tolerance {tolerance})");
                }
            }
        }
    }

    [Fact]
    public void SingleResultWithUnitWeight_IsReturnedExactly()
    {
        var model = RandomModel(new Random(5), Shapes);
        var acc = new FedAvgAccumulator(HeaderOf(model));
        acc.Add(model, 1);
        var average = acc.Finish();
        for (int t = 0; t < model.Count; t++)
        {
            Assert.Equal(model[t].Data, average[t].Data);
        }
    }

    [Theory]
    [InlineData(float.NaN, "NaN", Source.ChunkedStream)]
    [InlineData(float.PositiveInfinity, "+Infinity", Source.ChunkedStream)]
    [InlineData(float.NegativeInfinity, "-Infinity", Source.ChunkedStream)]
    [InlineData(float.NaN, "NaN", Source.InMemory)]
    [InlineData(float.PositiveInfinity, "+Infinity", Source.ExposedMemoryStream)]
    [InlineData(float.NaN, "NaN", Source.File)]
    public void NonFiniteResult_IsRejected_AndLeavesTheSumUntouched(float bad, string word, Source source)
    {
        var rng = new Random(9);
        var poisoned = RandomModel(rng, Shapes);
        // Late in the last tensor, well past the first chunk: everything before it must not have been folded.
        int last = Shapes.Length - 1;
        poisoned[last].AsFloat32()[150_000] = bad;
        var good = RandomModel(rng, Shapes);

        string dir = TestFiles.TempDir();
        try
        {
            var acc = new FedAvgAccumulator(HeaderOf(good));
            var e = Assert.Throws<WeightsRejectedException>(() => AddVia(acc, source, poisoned, 10, dir));
            Assert.Contains($"'layer{last}.weight'", e.Message);
            Assert.Contains(word, e.Message);
            Assert.Contains("150000", e.Message);
            Assert.Equal(0, acc.Count);
            Assert.Equal(0, acc.TotalWeight);

            AddVia(acc, source, good, 1, dir);
            var average = acc.Finish();
            for (int t = 0; t < good.Count; t++)
            {
                Assert.Equal(good[t].Data, average[t].Data);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(Source.InMemory)]
    [InlineData(Source.ChunkedStream)]
    public void WrongNames_AreRejected_NamingMissingAndUnexpected(Source source)
    {
        var model = RandomModel(new Random(1), [[4], [2, 2]]);
        var acc = new FedAvgAccumulator(HeaderOf(model));
        var renamed = new List<NamedTensor> { model[0], NamedTensor.FromFloats("intruder", [2, 2], [1f, 2f, 3f, 4f]) };
        var e = Assert.Throws<WeightsRejectedException>(() => AddVia(acc, source, renamed, 1, "."));
        Assert.Contains("missing", e.Message);
        Assert.Contains("'layer1.weight'", e.Message);
        Assert.Contains("unexpected", e.Message);
        Assert.Contains("'intruder'", e.Message);

        var fewer = new List<NamedTensor> { model[0] };
        e = Assert.Throws<WeightsRejectedException>(() => AddVia(acc, source, fewer, 1, "."));
        Assert.Contains("'layer1.weight'", e.Message);
        Assert.Equal(0, acc.Count);
    }

    [Theory]
    [InlineData(Source.InMemory)]
    [InlineData(Source.ChunkedStream)]
    public void WrongShape_IsRejected_WithBothShapes(Source source)
    {
        var model = RandomModel(new Random(1), [[4], [2, 3]]);
        var acc = new FedAvgAccumulator(HeaderOf(model));
        var reshaped = new List<NamedTensor> { model[0], NamedTensor.FromFloats("layer1.weight", [3, 2], new float[6]) };
        var e = Assert.Throws<WeightsRejectedException>(() => AddVia(acc, source, reshaped, 1, "."));
        Assert.Contains("'layer1.weight'", e.Message);
        Assert.Contains("[3, 2]", e.Message);
        Assert.Contains("[2, 3]", e.Message);
    }

    [Theory]
    [InlineData(Source.InMemory)]
    [InlineData(Source.ChunkedStream)]
    public void WrongDType_IsRejected(Source source)
    {
        var model = RandomModel(new Random(1), [[2]]);
        var acc = new FedAvgAccumulator(HeaderOf(model));
        var f64 = new List<NamedTensor> { new("layer0.weight", TensorDType.F64, [2], new byte[16]) };
        var e = Assert.Throws<WeightsRejectedException>(() => AddVia(acc, source, f64, 1, "."));
        Assert.Contains("F64", e.Message);
        Assert.Contains("'layer0.weight'", e.Message);
    }

    [Fact]
    public void MalformedFile_IsRejectedAsWeights()
    {
        var model = RandomModel(new Random(1), [[2]]);
        var acc = new FedAvgAccumulator(HeaderOf(model));
        byte[] bytes = Bytes(model);
        using var truncated = new MemoryStream(bytes, 0, bytes.Length - 1);
        var e = Assert.Throws<WeightsRejectedException>(() => acc.Add(truncated, 1));
        Assert.Contains("truncated", e.Message);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void NonPositiveOrNonFiniteWeight_IsRefused(double weight)
    {
        var model = RandomModel(new Random(1), [[2]]);
        var acc = new FedAvgAccumulator(HeaderOf(model));
        Assert.Throws<ArgumentOutOfRangeException>(() => acc.Add(model, weight));
        using var ms = new MemoryStream(Bytes(model));
        Assert.Throws<ArgumentOutOfRangeException>(() => acc.Add(ms, weight));
    }

    [Fact]
    public void NonF32Template_IsRefused()
    {
        var header = HeaderOf([new NamedTensor("x", TensorDType.BF16, [2], new byte[4])]);
        var e = Assert.Throws<ArgumentException>(() => new FedAvgAccumulator(header));
        Assert.Contains("'x'", e.Message);
    }

    [Fact]
    public void Finish_RequiresAResult_AndEndsTheAccumulator()
    {
        var model = RandomModel(new Random(1), [[2]]);
        var acc = new FedAvgAccumulator(HeaderOf(model));
        Assert.Throws<InvalidOperationException>(() => acc.Finish());
        acc.Add(model, 2);
        acc.Finish();
        Assert.Throws<InvalidOperationException>(() => acc.Finish());
        Assert.Throws<InvalidOperationException>(() => acc.Add(model, 1));
    }
}
