using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Cli.Client;
using RMTC.Farm.Cli.Commands;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;
using RMTC.Farm.Training.Datasets;

namespace RMTC.Farm.Cli.Demo;

/// <summary>
/// The demo farm: synthesizes a dataset, starts an embedded coordinator and real agent processes on loopback,
/// submits a job through the same gRPC API wranglers use, follows it, and writes the model and manifest.
/// </summary>
internal sealed class DemoRunner(DemoSettings settings)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public async Task<int> RunAsync(CancellationToken ct)
    {
        if (settings.Agents < 1 || settings.Rounds < 1 || settings.Shards < 1 || settings.Samples < settings.Shards)
        {
            await Console.Error.WriteLineAsync("error: --agents, --rounds and --shards must be at least 1, and --samples at least --shards");
            return 2;
        }

        var output = settings.Output;
        var farmDir = Path.Combine(output, "farm");
        var datasetDir = Path.Combine(output, "dataset");
        var logDir = Path.Combine(output, "logs");
        Directory.CreateDirectory(logDir);

        Step("starting the coordinator (embedded file store, gRPC on 127.0.0.1)");
        await using var app = CoordinatorHost.Create(c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Coordinator:DataDirectory"] = farmDir,
            ["Coordinator:Port"] = "0",
            ["Coordinator:MetricsPort"] = "0",
            ["Coordinator:OpenCuePort"] = "-1",
            ["Coordinator:LeaseTimeoutMs"] = "5000",
            ["Coordinator:HeartbeatIntervalMs"] = "500",
            ["Logging:LogLevel:Default"] = "Warning",
        }));
        await app.StartAsync(ct);
        var address = app.BoundAddress().ToString().TrimEnd('/');
        var scheduler = app.Services.GetRequiredService<FarmScheduler>();
        var explorer = app.ExplorerAddress();
        Step($"Explorer: {explorer} (runs, lineage graph, farm view){(settings.Explore ? "" : "; add --explore to keep it serving after the run")}");

        Step($"starting {settings.Agents} agent processes against {address} (logs in {logDir})");
        var agents = new List<Process>();
        try
        {
            for (var i = 1; i <= settings.Agents; i++)
            {
                agents.Add(StartAgent(address, i, output, logDir));
            }

            // While the agents' runtimes start and connect (seconds each, and nothing for this process to do).
            Step($"synthesizing a {settings.Recipe} dataset ({settings.Samples} samples) in {datasetDir} while they start");
            if (Directory.Exists(datasetDir))
            {
                Directory.Delete(datasetDir, recursive: true);
            }

            DatasetSynthesizer.Synthesize(settings.Recipe, datasetDir, settings.Samples, seed: 7);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (scheduler.ConnectedAgents < settings.Agents)
            {
                if (DateTime.UtcNow > deadline || agents.Any(a => a.HasExited))
                {
                    await Console.Error.WriteLineAsync($"error: only {scheduler.ConnectedAgents} of {settings.Agents} agents connected; see {logDir}/agent-*.log");
                    return 1;
                }

                await Task.Delay(100, ct);
            }

            Step($"{settings.Agents} agents connected; submitting the job");
            using var channel = FarmClient.Channel(address);
            var jobs = new JobService.JobServiceClient(channel);
            var submitted = await jobs.SubmitJobAsync(new SubmitJobRequest
            {
                SpecYaml = JobYaml(),
                BaseDirectory = output,
                SourceName = "demo job",
                SubmittedBy = Environment.UserName,
            }, cancellationToken: ct);
            var runId = submitted.Job.Id;
            Step($"run {runId}: {settings.Shards} shards x {settings.Rounds} rounds");

            var final = await JobFollower.FollowAsync(channel, address, runId, settings.Json ? TextWriter.Null : Console.Out, json: false, TimeSpan.FromMinutes(1), answered: true, ct);
            await scheduler.FlushAsync();
            var manifest = RunManifest.FromJson((await jobs.GetManifestAsync(new GetJobRequest { JobId = runId }, cancellationToken: ct)).Json);
            var runJson = Path.Combine(output, "run.json");
            await File.WriteAllTextAsync(runJson, manifest.ToJson(), ct);
            if (final?.State != JobState.Succeeded || manifest.FinalModelDigest is null)
            {
                await Console.Error.WriteLineAsync($"error: run {runId} ended {JobText.State(final?.State ?? JobState.Unspecified)}: {manifest.Error}; manifest in {runJson}");
                PrintNextSteps(runId, farmDir, Console.Error);
                await ExploreAsync(explorer, runId, ct);
                return 1;
            }

            var artifacts = app.Services.GetRequiredService<IArtifactStore>();
            var modelPath = Path.Combine(output, "model.safetensors");
            await using (var model = artifacts.OpenRead(manifest.FinalModelDigest))
            await using (var copy = File.Create(modelPath))
            {
                await model.CopyToAsync(copy, ct);
            }

            PrintSummary(manifest, modelPath, runJson, artifacts.Location, farmDir);
            await ExploreAsync(explorer, runId, ct);
            return 0;
        }
        finally
        {
            await StopAgentsAsync(agents);
            await app.StopAsync(CancellationToken.None);
        }
    }

    private string JobYaml() => string.Create(CultureInfo.InvariantCulture, $"""
        name: demo-{settings.Recipe}
        recipe: {settings.Recipe}
        dataset: dataset
        shards: {settings.Shards}
        rounds: {settings.Rounds}
        seed: 42
        local:
          epochs: 1
          batch_size: 32
          learning_rate: {(settings.Recipe == "classifier" ? 0.05 : 0.02)}
        merge:
          strategy: {settings.Merge}
        """);

    private static Process StartAgent(string coordinator, int index, string output, string logDir)
    {
        var (exe, prefix) = SelfLauncher.Command();
        var info = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in prefix)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var a in new[]
        {
            "agent", "--coordinator", coordinator, "--id", $"demo-agent-{index}",
            "--work-dir", Path.Combine(output, "agents", $"agent-{index}"), "--threads", "1",
            "--exit-with-parent", Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
        })
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start an agent");
        var log = new StreamWriter(Path.Combine(logDir, $"agent-{index}.log")) { AutoFlush = true };
        var gate = new object();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (gate) { log.WriteLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (gate) { log.WriteLine(e.Data); } } };
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => { lock (gate) { log.Flush(); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task StopAgentsAsync(List<Process> agents)
    {
        foreach (var a in agents.Where(a => !a.HasExited))
        {
            // SIGTERM: the host stops its worker, which stops any shard process before exiting.
            Posix.Terminate(a.Id);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        foreach (var a in agents)
        {
            try
            {
                await a.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                a.Kill(entireProcessTree: true);
            }

            a.Dispose();
        }
    }

    /// <summary>With --explore, keeps the coordinator and agents up (the farm view stays live) until Ctrl+C.</summary>
    private async Task ExploreAsync(Uri? explorer, string runId, CancellationToken ct)
    {
        if (!settings.Explore)
        {
            return;
        }

        // With --json the summary on standard output stays one JSON document.
        var to = settings.Json ? Console.Error : Console.Out;
        if (explorer is null)
        {
            await to.WriteLineAsync("--explore: the Explorer is off (it needs the metrics port)");
            return;
        }

        await to.WriteLineAsync($"Explorer serving at {explorer} (this run: {explorer}run.html?id={runId}); press Ctrl+C to stop");
        await to.FlushAsync(CancellationToken.None);
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private void Step(string message)
    {
        if (!settings.Json)
        {
            Console.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:F1}s] {message}");
        }
    }

    private void PrintSummary(RunManifest m, string modelPath, string runJson, string artifactRoot, string farmDir)
    {
        var wall = _clock.Elapsed.TotalSeconds;
        if (settings.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                runId = m.RunId,
                model = modelPath,
                manifest = runJson,
                modelDigest = m.FinalModelDigest,
                wallSeconds = wall,
                agents = m.Rounds.SelectMany(r => r.Attempts).Select(a => a.AgentId).Distinct().Order().ToArray(),
                rounds = m.Rounds.Select(r => new { r.Round, r.MeanLoss, r.OutputDigest }).ToArray(),
                next = DemoNextSteps.For(m.RunId, farmDir).Select(s => new { s.What, s.Command, s.Note }).ToArray(),
            }, RunManifest.JsonOptions));
            return;
        }

        Console.WriteLine();
        Console.WriteLine($"run {m.RunId} succeeded in {wall:F1} s");
        Console.WriteLine($"  dataset  {m.Dataset.Name} ({m.Dataset.Samples} samples, {m.Dataset.Licence}) sha256:{m.Dataset.Digest[..16]}...");
        foreach (var r in m.Rounds)
        {
            var agents = string.Join(", ", r.Attempts.Where(a => a.Outcome == AttemptOutcomes.Succeeded).Select(a => a.AgentId).Distinct().Order());
            Console.WriteLine($"  round {r.Round}  loss {r.MeanLoss:F5}  {((r.EndedAt ?? r.StartedAt) - r.StartedAt).TotalSeconds,5:F1} s  merged {r.MergedResults.Count} results from {agents}");
        }

        Console.WriteLine($"  model    {modelPath} (sha256:{m.FinalModelDigest})");
        Console.WriteLine($"  manifest {runJson}");
        Console.WriteLine($"  every shard result and merged round stays in {artifactRoot}");
        PrintNextSteps(m.RunId, farmDir, Console.Out);
    }

    /// <summary>The commands to run next, with this run's id and paths (the demo's coordinator stops with it).</summary>
    private void PrintNextSteps(string runId, string farmDir, TextWriter to)
    {
        if (settings.Json)
        {
            return;
        }

        to.WriteLine();
        to.WriteLine("next:");
        foreach (var step in DemoNextSteps.For(runId, farmDir))
        {
            to.WriteLine($"  {step.What,-13} {step.Command}{(step.Note is null ? "" : $"  ({step.Note})")}");
        }
    }
}
