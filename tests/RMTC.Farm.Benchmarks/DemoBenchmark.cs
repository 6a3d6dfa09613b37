using System.Diagnostics;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// `rmtc demo` with its defaults, as a newcomer runs it, timed by phase from the outside (process clock) and from its
/// own record (the manifest's rounds and attempts, the trainers' reported seconds in the shard-completed events), with
/// cold trainers (a process per shard) and warm ones (a long-lived trainer per agent slot) one after the other; and,
/// given <c>--demo-baseline DLL</c> (the <c>rmtc.dll</c> of an older build), that build's demo beside them, so "at most
/// 0.7 of the time before" is measured in one run on one machine. <c>--demo-repeat N</c> alternates the three N times
/// and compares medians (a loaded machine moves single runs by seconds).
/// </summary>
internal static class DemoBenchmark
{
    public static async Task RunAsync(ResultTable table, string? baselineDll = null, int repeat = 1)
    {
        var (colds, warms, baselines) = (new List<double>(), new List<double>(), new List<double>());
        for (var i = 0; i < repeat; i++)
        {
            if (baselineDll is not null)
            {
                baselines.Add(await RunAsync(table, "baseline", baselineDll));
            }

            colds.Add(await RunAsync(table, "cold", RmtcCli.Dll));
            warms.Add(await RunAsync(table, "warm", RmtcCli.Dll));
        }

        var (cold, warm) = (Median(colds), Median(warms));
        var of = repeat > 1 ? $", medians of {repeat}" : "";
        table.Add($"rmtc demo, end to end (defaults), warm against cold trainers{of}", warm, "s", cold, "cold trainers, same run", "<= 0.7 of cold (ratio >= 1.43)", higherIsBetter: false);
        if (baselineDll is not null)
        {
            table.Add($"rmtc demo, end to end (defaults), now against the baseline build{of}", warm, "s", Median(baselines), "the --demo-baseline build, same run", "<= 0.7 of before (ratio >= 1.43)", higherIsBetter: false);
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>
    /// One demo of <paramref name="dll"/>, with <c>Agent:Trainer:Mode</c> = <paramref name="mode"/> for its agents
    /// (a baseline build runs as it did); returns its total seconds.
    /// </summary>
    private static async Task<double> RunAsync(ResultTable table, string mode, string dll)
    {
        var output = Directory.CreateTempSubdirectory("rmtc-demo-bench-").FullName;
        try
        {
            Console.WriteLine($"end to end: rmtc demo (defaults), {mode} trainers, into {output}");
            var start = DateTimeOffset.UtcNow;
            var clock = Stopwatch.StartNew();
            var info = new ProcessStartInfo(RmtcCli.Dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add(dll);
            info.ArgumentList.Add("demo");
            info.ArgumentList.Add("--out");
            info.ArgumentList.Add(output);
            // The demo's agents inherit its environment.
            if (mode != "baseline")
            {
                info.Environment["RMTC_Agent__Trainer__Mode"] = mode;
            }

            using var demo = Process.Start(info)!;
            var stdout = demo.StandardOutput.ReadToEndAsync();
            var stderr = demo.StandardError.ReadToEndAsync();
            await demo.WaitForExitAsync();
            var total = clock.Elapsed.TotalSeconds;
            if (demo.ExitCode != 0)
            {
                throw new InvalidOperationException($"rmtc demo exited {demo.ExitCode}: {await stderr}\n{await stdout}");
            }

            if (mode == "baseline")
            {
                // Its record may predate today's formats: the outside clock is the figure.
                Console.WriteLine($"  total {total:F1} s ({dll})");
                table.Add("rmtc demo, end to end (defaults), baseline build", total, "s", total, "itself", "report", higherIsBetter: false);
                return total;
            }

            var manifest = RunManifest.FromJson(await File.ReadAllTextAsync(Path.Combine(output, "run.json")));
            var store = new FileRunStore(Options.Create(new CoordinatorOptions { DataDirectory = Path.Combine(output, "farm") }));
            var trainSeconds = (await store.ReadEventsAsync(manifest.RunId))
                .Where(e => e.Kind == "shard-completed" && e.Data["lease"] is not null && e.Data["trainSeconds"] is not null)
                .ToDictionary(e => (string)e.Data["lease"]!, e => (double)e.Data["trainSeconds"]!);

            double startup = (manifest.SubmittedAt - start).TotalSeconds;
            double toFirstLease = (manifest.Rounds[0].Attempts.Min(a => a.StartedAt) - manifest.SubmittedAt).TotalSeconds;
            double training = 0, agentOverhead = 0, merge = 0;
            foreach (var round in manifest.Rounds)
            {
                // The round's critical path: its slowest accepted attempt, split into the trainer's own time and the rest.
                var last = round.Attempts.Where(a => a.Outcome == AttemptOutcomes.Succeeded).MaxBy(a => a.EndedAt)!;
                var held = (last.EndedAt!.Value - last.StartedAt).TotalSeconds;
                var trained = trainSeconds.GetValueOrDefault(last.LeaseId);
                training += trained;
                agentOverhead += held - trained;
                merge += (round.EndedAt!.Value - last.EndedAt.Value).TotalSeconds;
            }

            double rounds = manifest.Rounds.Sum(r => (r.EndedAt!.Value - r.StartedAt).TotalSeconds);
            double finish = total - (manifest.FinishedAt!.Value - start).TotalSeconds;
            Console.WriteLine($"  total {total:F1} s: start-up {startup:F1} s (dataset, coordinator, agent processes), submission to first lease {toFirstLease:F2} s,");
            Console.WriteLine($"  {manifest.Rounds.Count} rounds {rounds:F1} s = training {training:F1} s + trainer process start, weights fetch, upload and durable record on the critical path {agentOverhead:F2} s + merge and next round {merge:F2} s (+ waiting for the slowest agent),");
            Console.WriteLine($"  after the run (model, manifest, stopping agents) {finish:F1} s");
            table.Add($"rmtc demo, end to end (defaults), {mode} trainers", total, "s", training, "trainers' own time on the critical path", "report", higherIsBetter: false);
            table.Add($"  demo start-up, {mode}", startup, "s", total, "demo total", "report", higherIsBetter: false);
            table.Add($"  demo merge + next round, all rounds, {mode}", merge * 1000, "ms", rounds * 1000, "round time", "report", higherIsBetter: false);
            return total;
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}
