using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Weights;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Integration.Tests;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// A round's fan-out with and without peer fetch: N agents (real agent code hosted in this process, training SIMULATED
/// as a short wait) each leased one shard of a round whose weights are new, P float32 parameters. Counts the bytes each
/// agent fetched from the coordinator and from peers (its <see cref="TransferCounters"/>), and the round's wall time.
/// </summary>
internal static class PeerFetchBenchmark
{
    private const int Rounds = 3;

    public static async Task RunAsync(ResultTable table, int agents, long parameters)
    {
        var megabytes = parameters * sizeof(float) / 1e6;
        Console.WriteLine($"peers: {agents} agents, one shard each of a round of new weights ({megabytes:N0} MB), {Rounds} rounds; coordinator with and without peer naming");
        var without = await MeasureAsync(agents, parameters, namePeers: false);
        var with = await MeasureAsync(agents, parameters, namePeers: true);
        foreach (var (label, m) in new[] { ("without peers", without), ("with peers", with) })
        {
            Console.WriteLine($"  {label}: {m.Coordinator / Rounds / 1e6:N1} MB from the coordinator per round ({m.Coordinator / Rounds / (parameters * 4.0):F2} copies), {m.Peers / Rounds / 1e6:N1} MB from peers, {m.PeerRefusals} peers refused; round wall time median {m.RoundSeconds:F2} s");
        }

        table.Add($"coordinator bytes per round with peers ({agents} agents, {megabytes:N0} MB)", with.Coordinator / (double)Rounds / 1e6, "MB", without.Coordinator / (double)Rounds / 1e6, "without peers (every agent from the coordinator)", "1 copy per round", higherIsBetter: false);
    }

    private sealed record Measurement(long Coordinator, long Peers, long PeerRefusals, double RoundSeconds);

    private static async Task<Measurement> MeasureAsync(int count, long parameters, bool namePeers)
    {
        Environment.SetEnvironmentVariable("RMTC_Coordinator__DataPlane__NamePeers", namePeers ? "true" : "false");
        // The payload is not the recipe's model: let its size through the upload check (README Security).
        Environment.SetEnvironmentVariable("RMTC_Coordinator__UploadHeadroomBytes", (2 * parameters * sizeof(float)).ToString(CultureInfo.InvariantCulture));
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 120_000, heartbeatMs: 1000);
        Environment.SetEnvironmentVariable("RMTC_Coordinator__DataPlane__NamePeers", null);
        Environment.SetEnvironmentVariable("RMTC_Coordinator__UploadHeadroomBytes", null);
        var data = Path.Combine(farm.Root, "data");
        RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", data, count * 4, seed: 1);
        var nodes = Directory.Exists("/dev/shm") ? Path.Combine("/dev/shm", "rmtc-peers-" + Path.GetFileName(farm.Root)) : Path.Combine(farm.Root, "agents");
        var hosts = new List<IHost>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Agent:Coordinator"] = farm.Address,
                    ["Agent:Id"] = $"peer-{i:D3}",
                    ["Agent:Slots"] = "1",
                    ["Agent:Gpus"] = "0",
                    ["Agent:WorkDirectory"] = Path.Combine(nodes, i.ToString(CultureInfo.InvariantCulture)),
                    ["Agent:SimulateTrainingMs"] = "100",
                    ["Agent:GpuSampleIntervalMs"] = "600000",
                    ["Agent:PeerDataPlane:Port"] = "0",
                });
                builder.Logging.SetMinimumLevel(LogLevel.Warning);
                builder.Services.AddRmtcAgent(builder.Configuration);
                var host = builder.Build();
                await host.StartAsync();
                hosts.Add(host);
            }

            await FarmFixture.WaitUntilAsync(() => farm.Scheduler.ConnectedAgents >= count, TimeSpan.FromMinutes(2), () => "agents did not connect");
            var seconds = new List<double>();
            for (var round = 0; round < Rounds; round++)
            {
                var clock = Stopwatch.StartNew();
                // A fresh run per round: its weights are new to every node, as a round's merged weights are.
                var run = farm.Scheduler.SubmitPreparedInProcess(
                    new JobSubmission { SpecYaml = $"name: peers-{round}\nrecipe: classifier\ndataset: {data}\nshards: {count}\nrounds: 1\nseed: {round + 1}\n", SourceName = "bench.yaml" },
                    (_, seed) => Weights(parameters, seed));
                await farm.Scheduler.WhenRecordedAsync(run.Id, CancellationToken.None);
                while (farm.Scheduler.GetJob(run.Id) is { } job && !RunStates.IsFinal(job.State))
                {
                    await Task.Delay(20);
                }

                if (farm.Scheduler.GetJob(run.Id) is { State: not RunStates.Succeeded } failed)
                {
                    throw new InvalidOperationException($"run {failed.Id} ended {failed.State}: {failed.Error}");
                }

                seconds.Add(clock.Elapsed.TotalSeconds);
            }

            var counters = hosts.Select(h => h.Services.GetRequiredService<TransferCounters>()).ToList();
            return new Measurement(counters.Sum(c => c.FromCoordinator), counters.Sum(c => c.FromPeers), counters.Sum(c => c.PeerRefusals), seconds.Order().ElementAt(seconds.Count / 2));
        }
        finally
        {
            await Task.WhenAll(hosts.Select(async h =>
            {
                await h.StopAsync();
                h.Dispose();
            }));
            if (Directory.Exists(nodes))
            {
                Directory.Delete(nodes, recursive: true);
            }
        }
    }

    /// <summary>One float32 tensor of <paramref name="parameters"/> values, distinct per seed (so each round's weights are new).</summary>
    private static IReadOnlyList<NamedTensor> Weights(long parameters, long seed)
    {
        var data = new byte[parameters * sizeof(float)];
        var values = MemoryMarshal.Cast<byte, float>(data.AsSpan());
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (i % 1000) * 0.001f + seed;
        }

        return [new NamedTensor("w", TensorDType.F32, [parameters], data)];
    }
}
