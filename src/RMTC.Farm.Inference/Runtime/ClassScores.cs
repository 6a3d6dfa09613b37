namespace RMTC.Farm.Inference.Runtime;

/// <summary>Turns a classifier's logits into labelled probabilities.</summary>
public static class ClassScores
{
    /// <summary>Softmax of each row of <paramref name="logits"/> [batch, classes], best first, labelled by <paramref name="classes"/>.</summary>
    public static IReadOnlyList<IReadOnlyList<(string Label, float Score)>> Rank(float[] logits, long[] shape, IReadOnlyList<string> classes)
    {
        if (shape.Length != 2)
        {
            throw new InvalidDataException($"a classifier's output must be [batch, classes], got [{string.Join(", ", shape)}]");
        }

        var n = (int)shape[1];
        var result = new List<IReadOnlyList<(string, float)>>();
        for (var row = 0; row < shape[0]; row++)
        {
            var x = logits.AsSpan(row * n, n);
            var max = float.NegativeInfinity;
            foreach (var v in x)
            {
                max = MathF.Max(max, v);
            }

            var exp = new double[n];
            var sum = 0d;
            for (var i = 0; i < n; i++)
            {
                exp[i] = Math.Exp(x[i] - max);
                sum += exp[i];
            }

            result.Add(Enumerable.Range(0, n)
                .Select(i => (i < classes.Count ? classes[i] : $"class {i}", (float)(exp[i] / sum)))
                .OrderByDescending(p => p.Item2).ToList());
        }

        return result;
    }
}
