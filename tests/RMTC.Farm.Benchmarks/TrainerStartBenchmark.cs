using System.Globalization;
using System.Text.RegularExpressions;
using RMTC.Farm.Integration.Tests;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// Shard start on a real agent, cold (a fresh <c>rmtc shard run</c> per shard) beside warm (<c>rmtc trainer serve</c>
/// kept per slot): from the lease reaching the agent to the trainer's first training batch, as the agent logs it for
/// every shard. One agent at a time against the same coordinator, the same job (denoiser, one shard a round).
/// </summary>
internal static partial class TrainerStartBenchmark
{
    public static async Task RunAsync(ResultTable table, int rounds)
    {
        Console.WriteLine($"shard start: lease received -> first training batch, one agent, denoiser, {rounds} rounds of one shard");
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 60_000);
        var data = farm.Synthesize("denoiser", 600);
        var cold = await MeasureAsync(farm, data, "cold", rounds);
        var warm = await MeasureAsync(farm, data, "warm", rounds);

        var coldMedian = Median(cold.Select(s => s.StartMs));
        var warmMedian = Median(warm.Skip(1).Select(s => s.StartMs));
        Console.WriteLine($"  cold: {Describe(cold)}");
        Console.WriteLine($"  warm: {Describe(warm)} (the first follows the run's preparation on the same trainer)");
        table.Add("shard start (lease -> first batch), warm trainer, median of rounds 2+", warmMedian, "ms", coldMedian, "cold trainer, median", "< 100 ms", higherIsBetter: false);
        table.Add("  warm trainer, first shard of the run", warm[0].StartMs, "ms", cold[0].StartMs, "cold trainer, first shard", "report", higherIsBetter: false);
        table.Add("  of which in the trainer (samples, model), warm / cold medians", Median(warm.Skip(1).Select(s => s.SetupMs)), "ms", Median(cold.Select(s => s.SetupMs)), "cold", "report", higherIsBetter: false);
    }

    private static async Task<List<(double StartMs, double SetupMs)>> MeasureAsync(FarmFixture farm, string data, string mode, int rounds)
    {
        var agent = (await farm.StartAgentsAsync(1, mode, new Dictionary<string, string> { ["RMTC_Agent__Trainer__Mode"] = mode, ["RMTC_Agent__ThreadsPerShard"] = "1" }))[0];
        try
        {
            var job = await farm.SubmitAsync($$"""
                name: start-{{mode}}
                recipe: denoiser
                dataset: {{data}}
                shards: 1
                rounds: {{rounds}}
                local: { epochs: 1, batch_size: 32 }
                """);
            var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(10));
            if (done.State != JobState.Succeeded)
            {
                throw new InvalidOperationException($"the {mode} run did not succeed: {done}\n{agent.Output}");
            }

            await FarmFixture.WaitUntilAsync(() => FirstBatch().Matches(agent.Output).Count >= rounds, TimeSpan.FromSeconds(30), () => agent.Output);
            return FirstBatch().Matches(agent.Output)
                .Where(m => m.Groups["mode"].Value == mode)
                .Select(m => (double.Parse(m.Groups["start"].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups["setup"].Value, CultureInfo.InvariantCulture)))
                .ToList();
        }
        finally
        {
            // Gone before the next mode's agent connects, so that one runs every shard (the fixture disposes it).
            agent.Kill();
            await FarmFixture.WaitUntilAsync(() => farm.Scheduler.ConnectedAgents == 0, TimeSpan.FromSeconds(60), () => "the agent is still connected");
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string Describe(List<(double StartMs, double SetupMs)> shards) =>
        string.Join(", ", shards.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.StartMs:F0} ms ({s.SetupMs:F0} in the trainer)")));

    [GeneratedRegex(@"first batch (?<start>\d+) ms after the lease arrived \((?<mode>\w+) trainer; (?<setup>\d+) ms")]
    private static partial Regex FirstBatch();
}
