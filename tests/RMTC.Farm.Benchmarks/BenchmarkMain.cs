namespace RMTC.Farm.Benchmarks;

/// <summary>Entry point: `dotnet run --project tests/RMTC.Farm.Benchmarks -c Release -- [lineage] [onnx] [--runs N] [--iterations N]`.</summary>
internal static class BenchmarkMain
{
    public static async Task<int> RunAsync(string[] args)
    {
        var runs = args.SkipWhile(a => a != "--runs").Skip(1).Select(int.Parse).FirstOrDefault(100_000);
        var iterations = args.SkipWhile(a => a != "--iterations").Skip(1).Select(int.Parse).FirstOrDefault(50);
        var which = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal) && !int.TryParse(a, out _)).ToHashSet();
        var table = new ResultTable();
        if (which.Count == 0 || which.Contains("lineage"))
        {
            await LineageBenchmark.RunAsync(table, runs);
        }

        if (which.Count == 0 || which.Contains("onnx"))
        {
            OnnxBenchmark.Run(table, iterations);
        }

        table.Print(Console.Out);
        return 0;
    }
}
