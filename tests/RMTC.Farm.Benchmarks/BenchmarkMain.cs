namespace RMTC.Farm.Benchmarks;

/// <summary>
/// Entry point: `dotnet run --project tests/RMTC.Farm.Benchmarks -c Release -- [lineage] [merge] [transfer] [peers] [scheduling] [manifest] [rounds] [start] [demo] [onnx] [exr] [scripted] [explorer]`
/// (none named: all), with `--runs N` (lineage), `--params N` (merge, transfer, peers), `--peer-agents N` (peers), `--agents N --shards N --train-ms N` (scheduling), `--iterations N` (onnx; exr takes at most 5), `--repetitions N --threads N` (scripted), `--rounds N` (start: shards timed per trainer mode), `--explorer-runs N` (explorer), `--demo-baseline DLL --demo-repeat N` (demo: an older build's rmtc.dll beside today's, alternated N times).
/// `soak [--runs 20] [--agents 3] [--seed 1] [--failover]` runs the fault soak instead (issue 6): real processes, one fault per run.
/// </summary>
internal static class BenchmarkMain
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] == "merge-child")
        {
            return MergeBenchmark.Child(args);
        }

        if (args.Length > 0 && args[0] == "soak")
        {
            // Not a benchmark: the fault soak, with its own figures and exit code.
            return await SoakTest.RunAsync(
                args.SkipWhile(a => a != "--runs").Skip(1).Select(int.Parse).FirstOrDefault(20),
                args.SkipWhile(a => a != "--agents").Skip(1).Select(int.Parse).FirstOrDefault(3),
                args.SkipWhile(a => a != "--seed").Skip(1).Select(int.Parse).FirstOrDefault(1),
                failover: args.Contains("--failover"));
        }

        var runs = args.SkipWhile(a => a != "--runs").Skip(1).Select(int.Parse).FirstOrDefault(100_000);
        var iterations = args.SkipWhile(a => a != "--iterations").Skip(1).Select(int.Parse).FirstOrDefault(50);
        var baseline = args.SkipWhile(a => a != "--demo-baseline").Skip(1).FirstOrDefault();
        var which = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal) && !int.TryParse(a, out _) && a != baseline).ToHashSet();
        var table = new ResultTable();
        if (which.Count == 0 || which.Contains("lineage"))
        {
            await LineageBenchmark.RunAsync(table, runs);
        }

        if (which.Count == 0 || which.Contains("merge"))
        {
            var parameters = args.SkipWhile(a => a != "--params").Skip(1).Select(long.Parse).FirstOrDefault(100_000_000);
            MergeBenchmark.Run(table, parameters, [4, 16]);
        }

        if (which.Count == 0 || which.Contains("scheduling"))
        {
            var agents = args.SkipWhile(a => a != "--agents").Skip(1).Select(int.Parse).FirstOrDefault(1000);
            var shards = args.SkipWhile(a => a != "--shards").Skip(1).Select(int.Parse).FirstOrDefault(100_000);
            var trainMs = args.SkipWhile(a => a != "--train-ms").Skip(1).Select(int.Parse).FirstOrDefault(100);
            await SchedulingBenchmark.RunLeasesAsync(table, agents, shards, trainMs);
        }

        if (which.Count == 0 || which.Contains("manifest"))
        {
            await ManifestWriteBenchmark.RunAsync(table);
        }

        if (which.Count == 0 || which.Contains("rounds"))
        {
            await SchedulingBenchmark.RunRoundOverheadAsync(table, 64, rounds: 3);
        }

        if (which.Count == 0 || which.Contains("transfer"))
        {
            var parameters = args.SkipWhile(a => a != "--params").Skip(1).Select(long.Parse).FirstOrDefault(100_000_000);
            await TransferBenchmark.RunAsync(table, parameters);
        }

        if (which.Count == 0 || which.Contains("peers"))
        {
            var parameters = args.SkipWhile(a => a != "--params").Skip(1).Select(long.Parse).FirstOrDefault(10_000_000);
            await PeerFetchBenchmark.RunAsync(table, args.SkipWhile(a => a != "--peer-agents").Skip(1).Select(int.Parse).FirstOrDefault(8), parameters);
        }

        if (which.Count == 0 || which.Contains("start"))
        {
            await TrainerStartBenchmark.RunAsync(table, args.SkipWhile(a => a != "--rounds").Skip(1).Select(int.Parse).FirstOrDefault(6));
        }

        if (which.Count == 0 || which.Contains("demo"))
        {
            if (baseline is not null && !File.Exists(baseline))
            {
                await Console.Error.WriteLineAsync($"error: --demo-baseline {baseline}: no such file (give the rmtc.dll of an older build, e.g. src/RMTC.Farm.Cli/bin/Release/net10.0/rmtc.dll of a worktree at that commit)");
                return 2;
            }

            await DemoBenchmark.RunAsync(table, baseline is null ? null : Path.GetFullPath(baseline), args.SkipWhile(a => a != "--demo-repeat").Skip(1).Select(int.Parse).FirstOrDefault(1));
        }

        if (which.Count == 0 || which.Contains("onnx"))
        {
            OnnxBenchmark.Run(table, iterations);
        }

        if (which.Count == 0 || which.Contains("exr"))
        {
            ExrBenchmark.Run(table, Math.Min(iterations, 5));
        }

        if (which.Count == 0 || which.Contains("explorer"))
        {
            await ExplorerBenchmark.RunAsync(table, args.SkipWhile(a => a != "--explorer-runs").Skip(1).Select(int.Parse).FirstOrDefault(10_000));
        }

        if (which.Count == 0 || which.Contains("scripted"))
        {
            ScriptedTrainingBenchmark.Run(table,
                args.SkipWhile(a => a != "--repetitions").Skip(1).Select(int.Parse).FirstOrDefault(15),
                args.SkipWhile(a => a != "--threads").Skip(1).Select(int.Parse).FirstOrDefault(0));
        }

        table.Print(Console.Out);
        return 0;
    }
}
