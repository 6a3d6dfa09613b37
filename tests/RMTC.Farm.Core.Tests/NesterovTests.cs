using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Tests;

public sealed class NesterovTests
{
    private static readonly long[][] Shapes = [[], [5], [3, 7], [1031]];

    private static List<NamedTensor> Random(Random rng, bool zeros = false)
    {
        var list = new List<NamedTensor>();
        for (int i = 0; i < Shapes.Length; i++)
        {
            long n = 1;
            foreach (long d in Shapes[i])
            {
                n *= d;
            }

            var v = new float[n];
            if (!zeros)
            {
                for (int j = 0; j < n; j++)
                {
                    v[j] = (float)((rng.NextDouble() * 2) - 1);
                }
            }

            list.Add(NamedTensor.FromFloats($"t{i}", Shapes[i], v));
        }

        return list;
    }

    private static double[][] ToDouble(List<NamedTensor> tensors) =>
        tensors.Select(t => t.AsFloat32().ToArray().Select(x => (double)x).ToArray()).ToArray();

    [Fact]
    public void ThreeSteps_MatchAReferenceLoop()
    {
        var rng = new Random(42);
        var global = Random(rng);
        var momentum = Random(rng, zeros: true);
        double[][] refGlobal = ToDouble(global);
        double[][] refMomentum = ToDouble(momentum);
        const float lr = 0.7f, mu = 0.9f;

        for (int step = 0; step < 3; step++)
        {
            var average = Random(rng);
            double[][] avg = ToDouble(average);
            NesterovOuterOptimizer.Step(global, average, momentum, lr, mu);
            for (int t = 0; t < Shapes.Length; t++)
            {
                for (int i = 0; i < refGlobal[t].Length; i++)
                {
                    double g = refGlobal[t][i] - avg[t][i];
                    refMomentum[t][i] = (mu * refMomentum[t][i]) + g;
                    refGlobal[t][i] -= lr * ((mu * refMomentum[t][i]) + g);
                }
            }

            for (int t = 0; t < Shapes.Length; t++)
            {
                var actualG = global[t].AsFloat32();
                var actualM = momentum[t].AsFloat32();
                for (int i = 0; i < refGlobal[t].Length; i++)
                {
                    Assert.True(Math.Abs(actualG[i] - refGlobal[t][i]) <= 1e-5 * Math.Max(1, Math.Abs(refGlobal[t][i])), $"step {step} t{t}[{i}] global");
                    Assert.True(Math.Abs(actualM[i] - refMomentum[t][i]) <= 1e-5 * Math.Max(1, Math.Abs(refMomentum[t][i])), $"step {step} t{t}[{i}] momentum");
                }
            }
        }
    }

    [Fact]
    public void UnitLearningRateWithoutMomentum_IsPlainFedAvg()
    {
        var rng = new Random(7);
        var global = Random(rng);
        var average = Random(rng);
        var momentum = Random(rng, zeros: true);
        NesterovOuterOptimizer.Step(global, average, momentum, 1f, 0f);
        for (int t = 0; t < Shapes.Length; t++)
        {
            var g = global[t].AsFloat32();
            var a = average[t].AsFloat32();
            for (int i = 0; i < g.Length; i++)
            {
                Assert.True(Math.Abs(g[i] - a[i]) <= 1e-6, $"t{t}[{i}]: {g[i]} != {a[i]}");
            }
        }
    }

    [Fact]
    public void MismatchedNamesOrShapes_AreRefused_BeforeAnythingChanges()
    {
        var rng = new Random(3);
        var global = Random(rng);
        var before = global.Select(t => t.Data.ToArray()).ToList();
        var momentum = Random(rng, zeros: true);

        var renamed = Random(rng);
        renamed[2] = NamedTensor.FromFloats("other", Shapes[2], new float[21]);
        var e = Assert.Throws<ArgumentException>(() => NesterovOuterOptimizer.Step(global, renamed, momentum, 1f, 0.9f));
        Assert.Contains("'t2'", e.Message);

        var reshaped = Random(rng);
        reshaped[2] = NamedTensor.FromFloats("t2", [7, 3], new float[21]);
        e = Assert.Throws<ArgumentException>(() => NesterovOuterOptimizer.Step(global, reshaped, momentum, 1f, 0.9f));
        Assert.Contains("[7, 3]", e.Message);

        Assert.Throws<ArgumentException>(() => NesterovOuterOptimizer.Step(global, Random(rng), momentum.Take(2).ToList(), 1f, 0.9f));

        for (int t = 0; t < global.Count; t++)
        {
            Assert.Equal(before[t], global[t].Data);
        }
    }

    [Fact]
    public void Tensors_named_as_running_statistics_take_the_average_and_keep_no_momentum()
    {
        var global = new List<NamedTensor> { NamedTensor.FromFloats("bn.running_var", [2], [1f, 1f]), NamedTensor.FromFloats("w", [1], [1f]) };
        var average = new List<NamedTensor> { NamedTensor.FromFloats("bn.running_var", [2], [0.2f, 0.4f]), NamedTensor.FromFloats("w", [1], [0.5f]) };
        var momentum = new List<NamedTensor> { NamedTensor.FromFloats("bn.running_var", [2], [0f, 0f]), NamedTensor.FromFloats("w", [1], [0f]) };

        NesterovOuterOptimizer.Step(global, average, momentum, 2f, 0.5f, new HashSet<string>(["bn.running_var"]));

        Assert.Equal([0.2f, 0.4f], global[0].AsFloat32().ToArray());
        Assert.Equal([0f, 0f], momentum[0].AsFloat32().ToArray());
        // w: g = 0.5, m = 0.5, w = 1 - 2 * (0.5 * 0.5 + 0.5).
        Assert.Equal(-0.5f, global[1].AsFloat32()[0]);
    }
}
