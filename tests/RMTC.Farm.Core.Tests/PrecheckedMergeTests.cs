using System.Buffers.Binary;
using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Tests;

/// <summary>The coordinator's fast path: values checked as the upload arrives, then one mapped pass per result, into recycled arrays.</summary>
public sealed class PrecheckedMergeTests : IDisposable
{
    private static readonly long[][] Shapes = [[], [1], [7], [3, 11], [0, 5], [70_001], [3, 65_537]];
    private readonly string _dir = TestFiles.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<NamedTensor> Model(int seed, long[][] shapes)
    {
        var rng = new Random(seed);
        return shapes.Select((shape, i) =>
        {
            var values = new float[shape.Aggregate(1L, (a, d) => a * d)];
            for (int j = 0; j < values.Length; j++)
            {
                values[j] = (float)((rng.NextDouble() * 2) - 1);
            }

            return NamedTensor.FromFloats($"t{i}", shape, values);
        }).ToList();
    }

    private string Write(IReadOnlyList<NamedTensor> model)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".safetensors");
        Safetensors.WriteFile(path, model);
        return path;
    }

    private static SafetensorsHeader Header(string path)
    {
        using var file = File.OpenRead(path);
        return Safetensors.ReadHeader(file, file.Length);
    }

    private static IReadOnlyList<NamedTensor> Average(string[] paths, double[] weights, bool prechecked, IReadOnlyList<NamedTensor>? recycle = null)
    {
        var acc = new FedAvgAccumulator(Header(paths[0]), recycle);
        for (int i = 0; i < paths.Length; i++)
        {
            if (prechecked)
            {
                acc.AddPrechecked(paths[i], weights[i]);
            }
            else
            {
                using var file = File.OpenRead(paths[i]);
                acc.Add(file, weights[i]);
            }
        }

        return acc.Finish();
    }

    private static void AssertBitIdentical(IReadOnlyList<NamedTensor> expected, IReadOnlyList<NamedTensor> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Name, actual[i].Name);
            Assert.True(expected[i].Data.AsSpan().SequenceEqual(actual[i].Data), $"tensor {expected[i].Name} differs");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    public void Prechecked_IsBitIdenticalToTheValidatingPath(int k)
    {
        var paths = Enumerable.Range(0, k).Select(i => Write(Model(i, Shapes))).ToArray();
        var weights = Enumerable.Range(0, k).Select(i => 10.0 + (i * 7)).ToArray();

        AssertBitIdentical(Average(paths, weights, prechecked: false), Average(paths, weights, prechecked: true));
    }

    [Fact]
    public void Prechecked_FromStreams_IsBitIdenticalToTheMappedPath_AtAnyOffset()
    {
        // The coordinator hands the merge a stream from its artifact store, not a path: an open file is mapped through its
        // handle, any other stream folded in one pass, each from the stream's position.
        var paths = Enumerable.Range(0, 3).Select(i => Write(Model(i, Shapes))).ToArray();
        double[] weights = [4, 9, 2];
        var expected = Average(paths, weights, prechecked: true);

        var fromFiles = new FedAvgAccumulator(Header(paths[0]));
        var fromMemory = new FedAvgAccumulator(Header(paths[0]));
        for (int i = 0; i < paths.Length; i++)
        {
            using (var file = File.OpenRead(paths[i]))
            {
                fromFiles.AddPrechecked(file, weights[i]);
            }

            var padded = new byte[] { 1, 2, 3 }.Concat(File.ReadAllBytes(paths[i])).ToArray();
            using var memory = new MemoryStream(padded, writable: false);
            memory.Position = 3;
            fromMemory.AddPrechecked(memory, weights[i]);
        }

        AssertBitIdentical(expected, fromFiles.Finish());
        AssertBitIdentical(expected, fromMemory.Finish());
    }

    [Fact]
    public void RecycledArrays_AreReused_AndGiveTheSameAverage()
    {
        var paths = Enumerable.Range(0, 3).Select(i => Write(Model(i, Shapes))).ToArray();
        double[] weights = [5, 6, 7];
        var fresh = Average(paths, weights, prechecked: true);
        // A previous round's average holding arbitrary values: the first result must overwrite them, not add to them.
        var previous = Average(paths.Reverse().ToArray(), [1, 2, 3], prechecked: false);
        var recycled = Average(paths, weights, prechecked: true, recycle: previous);

        AssertBitIdentical(fresh, recycled);
        Assert.Same(previous[5].Data, recycled[5].Data);
    }

    [Fact]
    public void TensorsLargerThanTheMappedWindow_AreFoldedAcrossWindows()
    {
        long[][] shapes = [[3], [(FedAvgAccumulator.MappedWindowBytes / sizeof(float)) + 12_345]];
        var paths = new[] { Write(Model(1, shapes)), Write(Model(2, shapes)) };
        double[] weights = [3, 1];

        AssertBitIdentical(Average(paths, weights, prechecked: false), Average(paths, weights, prechecked: true));
    }

    [Fact]
    public void Prechecked_StillRefusesTheWrongTensors_AndLeavesTheSumUntouched()
    {
        var good = Write(Model(1, Shapes));
        var wrong = Write(Model(2, [[7]]));
        var acc = new FedAvgAccumulator(Header(good));

        var e = Assert.Throws<WeightsRejectedException>(() => acc.AddPrechecked(wrong, 1));
        Assert.Contains("missing", e.Message);
        acc.AddPrechecked(good, 2);
        AssertBitIdentical(Average([good], [2], prechecked: false), acc.Finish());
    }

    [Fact]
    public void FiniteCheck_PassesAClean_File_FedInChunksOfAnySize()
    {
        var bytes = File.ReadAllBytes(Write(Model(3, Shapes)));
        var rng = new Random(5);
        for (int trial = 0; trial < 20; trial++)
        {
            var check = Feed(bytes, rng, maxChunk: trial < 5 ? 3 : 9000);
            Assert.True(check.IsClean, $"trial {trial}");
        }
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void FiniteCheck_FailsOnANonFiniteValue_Anywhere(float bad)
    {
        var path = Write(Model(4, Shapes));
        var header = Header(path);
        var rng = new Random(6);
        foreach (var tensor in header.Tensors.Where(t => t.ByteLength > 0))
        {
            var bytes = File.ReadAllBytes(path);
            long element = rng.NextInt64(tensor.ByteLength / sizeof(float));
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(header.DataStart + tensor.Begin + (element * sizeof(float)))), bad);
            Assert.False(Feed(bytes, rng, maxChunk: 7).IsClean, $"{bad} in {tensor.Name}[{element}] not caught");
        }
    }

    [Fact]
    public void FiniteCheck_FailsOnShortLongOrMalformedFiles()
    {
        var bytes = File.ReadAllBytes(Write(Model(5, Shapes)));
        var rng = new Random(7);

        var shortCheck = new SafetensorsFiniteCheck(bytes.Length);
        shortCheck.Append(bytes.AsSpan(0, bytes.Length - 1));
        Assert.False(shortCheck.IsClean);

        var longCheck = new SafetensorsFiniteCheck(bytes.Length - 4);
        longCheck.Append(bytes);
        Assert.False(longCheck.IsClean);

        var garbage = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(garbage, ulong.MaxValue);
        Assert.False(Feed(garbage, rng, 100).IsClean);

        var badJson = (byte[])bytes.Clone();
        badJson[8] = (byte)'[';
        Assert.False(Feed(badJson, rng, 100).IsClean);
    }

    [Fact]
    public void FiniteCheck_LooksOnlyAtFloat32Tensors()
    {
        // An I64 tensor whose bytes read as NaN floats is fine: only F32 values are merged.
        var labels = new byte[16];
        BinaryPrimitives.WriteSingleLittleEndian(labels, float.NaN);
        var model = new List<NamedTensor> { new("label", TensorDType.I64, [2], labels), NamedTensor.FromFloats("w", [2], [1f, 2f]) };
        var bytes = File.ReadAllBytes(Write(model));

        Assert.True(Feed(bytes, new Random(8), 5).IsClean);
    }

    private static SafetensorsFiniteCheck Feed(byte[] bytes, Random rng, int maxChunk)
    {
        var check = new SafetensorsFiniteCheck(bytes.Length);
        int at = 0;
        while (at < bytes.Length)
        {
            int n = Math.Min(bytes.Length - at, rng.Next(1, maxChunk + 1));
            check.Append(bytes.AsSpan(at, n));
            at += n;
        }

        return check;
    }
}
