using System.Runtime.InteropServices;
using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Tests;

/// <summary>
/// A BatchNorm model's state: F32 parameters and running statistics averaged by samples, I64 counters
/// (<c>num_batches_tracked</c>) merged by their maximum, on every path a result can take into the accumulator.
/// </summary>
public sealed class IntegerBufferMergeTests
{
    public enum Path { InMemory, ChunkedStream, ExposedMemoryStream, File, PrecheckedFile, PrecheckedStream }

    private static List<NamedTensor> BatchNormState(Random rng, long batches)
    {
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() * 2 - 1).ToArray();
        return
        [
            NamedTensor.FromFloats("bn.bias", [8], Values(8)),
            Counter("bn.num_batches_tracked", batches),
            NamedTensor.FromFloats("bn.running_mean", [8], Values(8)),
            NamedTensor.FromFloats("bn.running_var", [8], Values(8).Select(Math.Abs).ToArray()),
            NamedTensor.FromFloats("bn.weight", [8], Values(8)),
            NamedTensor.FromFloats("conv.weight", [8, 3, 3, 3], Values(216)),
        ];
    }

    private static NamedTensor Counter(string name, long value)
    {
        var data = new byte[8];
        MemoryMarshal.Write(data, in value);
        return new NamedTensor(name, TensorDType.I64, [], data);
    }

    private static SafetensorsHeader HeaderOf(IReadOnlyList<NamedTensor> model)
    {
        using var ms = new MemoryStream();
        Safetensors.Write(ms, model);
        ms.Position = 0;
        return Safetensors.ReadHeader(ms, ms.Length);
    }

    private static void AddVia(FedAvgAccumulator acc, Path path, IReadOnlyList<NamedTensor> result, double weight, string dir)
    {
        var file = System.IO.Path.Combine(dir, Guid.NewGuid().ToString("N") + ".safetensors");
        Safetensors.WriteFile(file, result);
        var bytes = File.ReadAllBytes(file);
        switch (path)
        {
            case Path.InMemory:
                acc.Add(result, weight);
                break;
            case Path.ChunkedStream:
                using (var ms = new MemoryStream(bytes))
                {
                    acc.Add(ms, weight);
                }

                break;
            case Path.ExposedMemoryStream:
                using (var ms = new MemoryStream())
                {
                    ms.Write(bytes);
                    ms.Position = 0;
                    acc.Add(ms, weight);
                }

                break;
            case Path.File:
                using (var fs = File.OpenRead(file))
                {
                    acc.Add(fs, weight);
                }

                break;
            case Path.PrecheckedFile:
                acc.AddPrechecked(file, weight);
                break;
            case Path.PrecheckedStream:
                using (var ms = new MemoryStream(bytes))
                {
                    acc.AddPrechecked(ms, weight);
                }

                break;
        }
    }

    [Theory]
    [InlineData(Path.InMemory)]
    [InlineData(Path.ChunkedStream)]
    [InlineData(Path.ExposedMemoryStream)]
    [InlineData(Path.File)]
    [InlineData(Path.PrecheckedFile)]
    [InlineData(Path.PrecheckedStream)]
    public void FloatsAreAveragedBySamples_CountersTakeTheMaximum(Path path)
    {
        var rng = new Random(5);
        long[] batches = [12, 40, 7];
        double[] weights = [30, 100, 20];
        var results = batches.Select(b => BatchNormState(rng, b)).ToList();
        var dir = TestFiles.TempDir();
        IReadOnlyList<NamedTensor> merged;
        try
        {
            var acc = new FedAvgAccumulator(HeaderOf(results[0]));
            for (int r = 0; r < results.Count; r++)
            {
                AddVia(acc, path, results[r], weights[r], dir);
            }

            merged = acc.Finish();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        for (int t = 0; t < merged.Count; t++)
        {
            Assert.Equal(results[0][t].Name, merged[t].Name);
            Assert.Equal(results[0][t].DType, merged[t].DType);
            if (merged[t].DType == TensorDType.I64)
            {
                Assert.Equal(40L, MemoryMarshal.Read<long>(merged[t].Data));
                continue;
            }

            var actual = merged[t].AsFloat32();
            for (int i = 0; i < actual.Length; i++)
            {
                double expected = results.Select((r, k) => weights[k] * r[t].AsFloat32()[i]).Sum() / weights.Sum();
                Assert.True(Math.Abs(actual[i] - expected) < 1e-6, $"{merged[t].Name}[{i}]: {actual[i]} vs {expected}");
            }
        }
    }

    [Fact]
    public void ACounterSentAsFloat_IsRefusedNamingTheTensor()
    {
        var model = BatchNormState(new Random(1), 3);
        var acc = new FedAvgAccumulator(HeaderOf(model));
        var wrong = model.Select(t => t.DType == TensorDType.I64 ? NamedTensor.FromFloats(t.Name, [], [3f]) : t).ToList();
        var e = Assert.Throws<WeightsRejectedException>(() => acc.Add(wrong, 1));
        Assert.Contains("'bn.num_batches_tracked'", e.Message);
        Assert.Contains("expected I64", e.Message);
    }

    [Fact]
    public void Nesterov_TakesTheMergedCounterAndStepsTheFloats()
    {
        var rng = new Random(9);
        var global = BatchNormState(rng, 10);
        var average = BatchNormState(rng, 25);
        var momentum = global.Select(t => new NamedTensor(t.Name, t.DType, t.Shape, new byte[t.Data.Length])).ToList();
        var before = global.Single(t => t.Name == "conv.weight").AsFloat32().ToArray();

        NesterovOuterOptimizer.Step(global, average, momentum, 0.7f, 0.9f);

        Assert.Equal(25L, MemoryMarshal.Read<long>(global.Single(t => t.Name == "bn.num_batches_tracked").Data));
        Assert.Equal(0L, MemoryMarshal.Read<long>(momentum.Single(t => t.Name == "bn.num_batches_tracked").Data));
        Assert.NotEqual(before, global.Single(t => t.Name == "conv.weight").AsFloat32().ToArray());
    }
}
