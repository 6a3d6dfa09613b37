using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Integration.Tests;
using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// The soak: a real coordinator on a real redis-server, real agent processes training for real, runs back to back with
/// one fault each from the failure table. Every run must succeed and verify; at the end nothing may be left running and
/// the coordinator's memory and open files must not have grown without bound. Prints its figures; exits 1 on any miss.
/// </summary>
internal static class SoakTest
{
    private const int LeaseTimeoutMs = 3000;

    public static async Task<int> RunAsync(int runs, int agentCount, int seed, bool failover = false)
    {
        var inv = CultureInfo.InvariantCulture;
        var root = Directory.CreateTempSubdirectory("rmtc-soak-").FullName;
        var wall = Stopwatch.StartNew();
        await using var store = await SoakStore.StartAsync(sentinel: failover);
        Console.WriteLine($"soak: {runs} runs, {agentCount} agents, seed {seed}, {(failover ? "two coordinators (leader and standby)" : "one coordinator")} on {store.Describe}, work in {root}");
        var data = Path.Combine(root, "data");
        RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", data, 240, seed: 5);
        var farmDir = Path.Combine(root, "farm");
        var artifacts = new FileArtifactStore(Options.Create(new CoordinatorOptions { DataDirectory = farmDir }));
        var coordinators = await SoakCoordinators.StartAsync(farmDir, store, LeaseTimeoutMs, failover ? 2 : 1);
        var agents = Enumerable.Range(1, agentCount).Select(i => StartAgent(coordinators.Addresses, root, i)).ToArray();

        // Every kind at least once (runs permitting), in a seeded order.
        var kinds = failover ? SoakFaults.Failover : SoakFaults.All;
        var random = new Random(seed);
        var plan = Enumerable.Range(0, runs).Select(i => kinds[i % kinds.Length]).OrderBy(_ => random.Next()).ToList();
        var injected = new Dictionary<string, int>();
        var notInjected = new List<string>();
        var answers = new List<string>();
        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var figures = new SoakFailoverFigures();
        int overtaken = 0, resumed = 0;
        int completed = 0, verified = 0;
        long residentAfterFirst = 0, residentAfterLast = 0;
        int filesAfterFirst = 0, filesAfterLast = 0;
        // The managed heap after a full collection (dotnet-gcdump induces one), per coordinator process: growth across
        // runs of one process is what a leak looks like; RSS alone also moves with the collector's own sizing.
        var heaps = new List<(int Run, int Pid, long Bytes)>();
        var failures = new List<string>();
        try
        {
            for (var i = 0; i < runs; i++)
            {
                var fault = plan[i];
                try
                {
                    var started = Stopwatch.StartNew();
                    // What each agent says during this run: acknowledged results and upload retries are read from it.
                    var heard = agents.Select(a => (Agent: a, From: a.Output.Length)).ToList();
                    var leader = await coordinators.LeaderAsync(TimeSpan.FromMinutes(2));
                    var channel = coordinators.Channel(leader);
                    // Every agent with the leader first (after a takeover they reconnect with backoff): a run submitted to a
                    // farm of one rogue agent would hand it every task.
                    var leaderAddress = coordinators.AddressOf(leader);
                    await WaitAsync(() => agents.All(a => a.Output.LastIndexOf(" connected to ", StringComparison.Ordinal) is var at and >= 0
                        && a.Output.AsSpan(at).StartsWith($" connected to {leaderAddress}", StringComparison.Ordinal)), "every agent connected to the leader");
                    var rogue = SoakFaults.IsRogue(fault) ? new RogueAgent(channel, $"rogue-{i + 1}") : null;
                    using var rogueSession = rogue is null ? null : await rogue.ConnectAsync();
                    var policy = fault == SoakFaults.Straggler ? "round_policy:\n  straggler_after: 1s\n" : "";
                    var job = (await new JobService.JobServiceClient(channel).SubmitJobAsync(new SubmitJobRequest
                    {
                        SpecYaml = $"name: soak-{i + 1}\nrecipe: classifier\ndataset: {data}\nshards: 4\nrounds: 2\nmax_retries: 8\nlocal: {{ epochs: 1, batch_size: 8 }}\n{policy}",
                        SourceName = "soak.yaml",
                    })).Job;

                    string answer = "";
                    var missed = false;
                    switch (fault)
                    {
                        case SoakFaults.AgentKill:
                        {
                            var k = await BusyAgentAsync(coordinators, job.Id, agents);
                            if (k < 0)
                            {
                                missed = true;
                                break;
                            }

                            agents[k].Kill();
                            agents[k].Dispose();
                            await Task.Delay(1000);
                            agents[k] = StartAgent(coordinators.Addresses, root, k + 1);
                            heard.Add((agents[k], 0));
                            break;
                        }

                        case SoakFaults.AgentCutOff:
                        case SoakFaults.Straggler:
                        {
                            var k = await BusyAgentAsync(coordinators, job.Id, agents);
                            if (k < 0)
                            {
                                missed = true;
                                break;
                            }

                            Signal("STOP", agents[k].Process.Id);
                            await Task.Delay(fault == SoakFaults.AgentCutOff ? LeaseTimeoutMs + 2000 : LeaseTimeoutMs - 1000);
                            Signal("CONT", agents[k].Process.Id);
                            break;
                        }

                        case SoakFaults.Preemption:
                        {
                            // The render manager's hook: the node yields mid-shard, and is free again 2 s later.
                            var k = await BusyAgentAsync(coordinators, job.Id, agents);
                            if (k < 0)
                            {
                                missed = true;
                                break;
                            }

                            Signal("USR1", agents[k].Process.Id);
                            await Task.Delay(2000);
                            Signal("USR2", agents[k].Process.Id);
                            break;
                        }

                        case SoakFaults.CoordinatorKill:
                            await WaitAsync(() => MergedShards(coordinators, job.Id) >= 1, "a shard of round 1 merged");
                            await coordinators.RestartAsync(0);
                            break;
                        case SoakFaults.RedisRestart:
                            await BusyAgentAsync(coordinators, job.Id, agents);
                            await store.Single.KillAsync();
                            await Task.Delay(1000);
                            await store.Single.RestartAsync();
                            break;
                        case SoakFaults.RedisThenCoordinatorKill:
                            // Mid-round with the run in Redis (a run whose first record never landed is a different fault), Redis dies;
                            // the coordinator goes on granting leases it cannot record, then dies too: no epoch may be granted twice after.
                            await WaitAsync(() => StoredMergedShards(store, job.Id) >= 1, "a merged shard of round 1 recorded in Redis");
                            await store.Single.KillAsync();
                            await Task.Delay(6000);
                            await coordinators.RestartAsync(0, store.Single.RestartAsync);
                            break;
                        case SoakFaults.LeaderKill:
                        case SoakFaults.LeaderPause:
                        {
                            // Mid-round, with a result merged, the leader is lost; the standby must take over and serve.
                            await WaitAsync(() => MergedShards(coordinators, job.Id) >= 1, "a shard of round 1 merged");
                            var old = coordinators[leader];
                            var lost = Stopwatch.StartNew();
                            if (fault == SoakFaults.LeaderKill)
                            {
                                coordinators.Kill(leader);
                            }
                            else
                            {
                                coordinators.SamplePeak(old);
                                Signal("STOP", old.Process.Id);
                            }

                            try
                            {
                                // Serving again: the standby, or the killed one started again by the supervisor 1 s later,
                                // whichever takes the lease first once it expires (a paused one is not asked: it hangs).
                                var next = fault == SoakFaults.LeaderKill ? await coordinators.LeaderAsync(TimeSpan.FromSeconds(60)) : 1 - leader;
                                await coordinators.WaitServingAsync(next, TimeSpan.FromSeconds(60));
                                figures.Takeover(fault, lost.Elapsed, next == leader);
                            }
                            finally
                            {
                                if (fault == SoakFaults.LeaderPause)
                                {
                                    Signal("CONT", old.Process.Id);
                                }
                            }

                            if (fault == SoakFaults.LeaderPause)
                            {
                                // Awake, it must find its lease gone and step down (exit 75) without writing; the supervisor
                                // starts it again as a standby.
                                await WaitAsync(() => old.Process.HasExited, "the paused leader to step down");
                                var steppedDown = old.Output.Split('\n').LastOrDefault(l => l.Contains("Stepped down as leader", StringComparison.Ordinal));
                                if (old.Process.ExitCode != 75 || steppedDown is null)
                                {
                                    failures.Add($"run {i + 1} ({fault}): the woken leader exited {old.Process.ExitCode} without stepping down:\n{old.Output}");
                                }
                                else
                                {
                                    figures.SteppedDown(steppedDown);
                                }
                            }

                            break;
                        }

                        case SoakFaults.RedisPrimaryKill:
                            // Mid-run with a result on the primary; Sentinel promotes a replica, the killed server comes back as one.
                            await WaitAsync(() => StoredMergedShards(store, job.Id) >= 1, "a merged shard of round 1 recorded in Redis");
                            figures.RedisFailover(await store.FailOverAsync());
                            break;
                        default:
                            answer = await rogue!.MisbehaveAsync(rogueSession!, fault, artifacts, TimeSpan.FromMilliseconds(LeaseTimeoutMs));
                            answers.Add($"{fault}: {answer}");
                            break;
                    }

                    if (missed)
                    {
                        // A warm farm can finish a short run between two looks: nothing was running to hit.
                        notInjected.Add(fault);
                        answer = "not injected: the run ended before a shard was seen running";
                    }
                    else
                    {
                        injected[fault] = injected.GetValueOrDefault(fault) + 1;
                    }
                    rogueSession?.Dispose();

                    var state = await FinalStateAsync(coordinators, job.Id);
                    var ok = state == JobState.Succeeded;
                    completed += ok ? 1 : 0;
                    var check = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "lineage", "verify", job.Id, "--coordinator", coordinators.Addresses);
                    verified += check.ExitCode == 0 ? 1 : 0;
                    var attempts = RunManifest.FromJson(coordinators.Call(c => c.GetManifest(new GetJobRequest { JobId = job.Id })).Json).Rounds.SelectMany(r => r.Attempts).ToList();
                    foreach (var attempt in attempts)
                    {
                        outcomes[attempt.Outcome] = outcomes.GetValueOrDefault(attempt.Outcome) + 1;
                    }

                    if (await RepeatedEpochsAsync(store, job.Id, attempts) is { } repeated)
                    {
                        failures.Add($"run {i + 1} ({fault}): {repeated}");
                    }

                    // Nothing acknowledged lost: every result an agent was told is stored must be in the manifest Redis holds.
                    var said = string.Concat(heard.Select(h => h.Agent.Output[h.From..]));
                    if (await figures.CheckAcknowledgedAsync(fault, job.Id, said, () => StoredManifestAsync(store, job.Id)) is { } missing)
                    {
                        failures.Add($"run {i + 1} ({fault}): {missing}");
                    }

                    overtaken += attempts.Count(a => a.Error?.Contains("merged first", StringComparison.Ordinal) == true);
                    resumed += attempts.Count(a => a.ResumedFrom is not null);
                    if (!ok || check.ExitCode != 0)
                    {
                        var error = RunManifest.FromJson(coordinators.Call(c => c.GetManifest(new GetJobRequest { JobId = job.Id })).Json).Error;
                        failures.Add($"run {i + 1} ({fault}): {state} ({error}); verify exit {check.ExitCode}\n{check.Output}\n{coordinators.Tails()}");
                    }

                    var serving = coordinators[await coordinators.LeaderAsync(TimeSpan.FromMinutes(2))];
                    var memory = ProcessMemory.Of(serving.Process.Id);
                    coordinators.SamplePeak(serving);
                    var files = OpenFiles(serving.Process.Id);
                    if (i == 0)
                    {
                        (residentAfterFirst, filesAfterFirst) = (memory.Resident, files);
                    }

                    (residentAfterLast, filesAfterLast) = (memory.Resident, files);
                    var heap = LiveHeap(serving.Process.Id);
                    if (heap is { } bytes)
                    {
                        heaps.Add((i + 1, serving.Process.Id, bytes));
                    }

                    Console.WriteLine(string.Create(inv, $"  run {i + 1,2}/{runs} {fault,-48} {state,-10} verify {(check.ExitCode == 0 ? "ok" : "FAILED")}  {started.Elapsed.TotalSeconds,5:F1} s  coordinator {memory.Resident / 1048576.0:F0} MiB{(heap is { } h ? $" (heap {h / 1048576.0:F1} MiB)" : "")}, {files} fds{(answer.Length > 0 ? $"  answered {answer}" : "")}{figures.LastRun}"));
                }
                catch (Exception e) when (e is TimeoutException or RpcException or InvalidOperationException)
                {
                    // A fault that could not be injected or a run that never ended: a miss, with what the farm said; the soak goes on.
                    failures.Add($"run {i + 1} ({fault}): {e.Message}\n{coordinators.Tails()}\n{string.Join("\n", agents.Select(a => $"--- {a.Id}:\n{Tail(a.Output)}"))}");
                    Console.WriteLine($"  run {i + 1,2}/{runs} {fault,-48} FAILED: {e.Message}");
                }
            }
        }
        finally
        {
            foreach (var agent in agents)
            {
                agent.Dispose();
            }

            await coordinators.DisposeAsync();
        }

        // Nothing of the farm may outlive it: agents and coordinator are gone, so any trainer left is a leak.
        var leftover = 0;
        for (var wait = 0; wait < 40 && (leftover = Trainers()) > 0; wait++)
        {
            await Task.Delay(250);
        }

        Console.WriteLine();
        Console.WriteLine($"runs                         {runs}");
        foreach (var (kind, count) in injected.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Console.WriteLine($"  fault: {kind,-48} {count}");
        }

        if (notInjected.Count > 0)
        {
            Console.WriteLine($"  not injected (run ended first): {string.Join(", ", notInjected)}");
        }

        Console.WriteLine($"shard attempts by outcome    {string.Join(", ", outcomes.Select(p => $"{p.Key} {p.Value}"))}");
        Console.WriteLine($"stragglers overtaken         {overtaken} (attempts cancelled because a speculative twin delivered first)");
        Console.WriteLine($"attempts resumed             {resumed} (from a preempted attempt's checkpoint)");
        Console.WriteLine($"runs completed               {completed}/{runs}");
        Console.WriteLine($"manifests verified           {verified}/{runs}");
        figures.Print(coordinators.Leadership ? coordinators.Restarts : null);
        Console.WriteLine(string.Create(inv, $"peak coordinator memory      {coordinators.PeakMemory / 1048576.0:F0} MiB (VmHWM, across restarts)"));
        Console.WriteLine(string.Create(inv, $"coordinator resident         {residentAfterFirst / 1048576.0:F0} MiB after run 1, {residentAfterLast / 1048576.0:F0} MiB after run {runs} (the serving one)"));
        Console.WriteLine($"coordinator open files       {filesAfterFirst} after run 1, {filesAfterLast} after run {runs}");
        var heapGrowthPerRun = 0.0;
        if (heaps.Count == 0)
        {
            Console.WriteLine("coordinator live heap        not measured: `dotnet tool install -g dotnet-gcdump` for it");
        }
        else
        {
            // The longest stretch of runs served by one coordinator process, from its second run (the first warms caches).
            var stretch = heaps.GroupBy(h => h.Pid).Select(g => g.Skip(1).ToList()).Where(g => g.Count >= 2).MaxBy(g => g.Count);
            if (stretch is not null)
            {
                // Pools and caches (upload buffers, metric points) fill over the first runs; a leak keeps growing after.
                var late = stretch.Skip(stretch.Count / 2).ToList();
                heapGrowthPerRun = late.Count < 2 ? 0 : (late[^1].Bytes - late[0].Bytes) / (double)(late[^1].Run - late[0].Run);
                Console.WriteLine(string.Create(inv, $"coordinator live heap        {stretch[0].Bytes / 1048576.0:F1} MiB after run {stretch[0].Run}, at most {stretch.Max(h => h.Bytes) / 1048576.0:F1}, {stretch[^1].Bytes / 1048576.0:F1} MiB after run {stretch[^1].Run} (same process)"));
                Console.WriteLine(string.Create(inv, $"  growth, 2nd half of those  {heapGrowthPerRun / 1024:F0} KiB per run (runs {late[0].Run}-{late[^1].Run}; the first runs fill pools and caches)"));
            }
        }

        Console.WriteLine($"trainer processes left       {leftover}");
        Console.WriteLine(string.Create(inv, $"wall time                    {wall.Elapsed.TotalMinutes:F1} min"));
        foreach (var failure in failures)
        {
            Console.WriteLine("FAILED " + failure);
        }

        var good = completed == runs && verified == runs && leftover == 0 && failures.Count == 0 && answers.All(a => !a.Contains("OK (accepted", StringComparison.Ordinal) && !a.Contains("not recognised", StringComparison.Ordinal));
        Console.WriteLine(good ? "soak: PASSED" : "soak: FAILED");
        if (good)
        {
            Directory.Delete(root, recursive: true);
        }

        return good ? 0 : 1;
    }

    /// <summary>The live managed heap of a process after a full collection, via dotnet-gcdump when it is installed; null otherwise.</summary>
    private static long? LiveHeap(int pid)
    {
        var home = Environment.GetEnvironmentVariable("HOME") ?? "";
        var tool = new[] { Path.Combine(home, ".dotnet", "tools", "dotnet-gcdump") }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "dotnet-gcdump")))
            .FirstOrDefault(File.Exists);
        if (tool is null)
        {
            return null;
        }

        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("report");
        info.ArgumentList.Add("-p");
        info.ArgumentList.Add(pid.ToString(CultureInfo.InvariantCulture));
        using var report = Process.Start(info)!;
        var output = report.StandardOutput.ReadToEnd();
        report.WaitForExit();
        // "      5,431,778  GC Heap bytes"
        var line = output.Split('\n').FirstOrDefault(l => l.Contains("GC Heap bytes", StringComparison.Ordinal));
        return line is not null && long.TryParse(line.Trim().Split(' ')[0], NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var bytes) ? bytes : null;
    }

    /// <summary>Fencing holds only if no (shard, epoch) was granted twice: checked in the manifest's attempts and the event log; null when none was.</summary>
    private static async Task<string?> RepeatedEpochsAsync(SoakStore store, string runId, IReadOnlyList<AttemptRecord> attempts)
    {
        using var mux = await store.ConnectAsync();
        var events = await new RedisRunStore(mux, Microsoft.Extensions.Logging.Abstractions.NullLogger<RedisRunStore>.Instance).ReadEventsAsync(runId);
        var leased = events.Where(e => e.Kind == "shard-leased").Select(e => ((int)e.Data["shard"]!, (long)e.Data["epoch"]!));
        var repeated = attempts.Select(a => (a.Shard, a.LeaseEpoch)).GroupBy(k => k).Where(g => g.Count() > 1).Select(g => $"attempts {g.Key} x{g.Count()}")
            .Concat(leased.GroupBy(k => k).Where(g => g.Count() > 1).Select(g => $"shard-leased events {g.Key} x{g.Count()}"))
            .ToList();
        return repeated.Count == 0 ? null : "lease epochs granted twice: " + string.Join(", ", repeated);
    }

    private static AgentProcess StartAgent(string coordinator, string root, int n) =>
        AgentProcess.Start(coordinator, $"soak-{n}", Path.Combine(root, "agents", $"a{n}"));

    /// <summary>Index of an agent that holds a running lease of the run (waits until one does).</summary>
    private static async Task<int> BusyAgentAsync(SoakCoordinators coordinators, string jobId, AgentProcess[] agents)
    {
        var index = -1;
        var seen = "not read";
        await WaitAsync(() =>
        {
            var manifest = RunManifest.FromJson(coordinators.Call(c => c.GetManifest(new GetJobRequest { JobId = jobId })).Json);
            var running = manifest.Rounds.LastOrDefault()?.Attempts.FirstOrDefault(a => a.Outcome == AttemptOutcomes.Running && agents.Any(p => p.Id == a.AgentId));
            index = running is null ? -1 : Array.FindIndex(agents, p => p.Id == running.AgentId);
            if (RunStates.IsFinal(manifest.State))
            {
                index = -1;
                return true;
            }

            seen = $"{manifest.State}, round {manifest.Rounds.Count}, attempts {string.Join(" ", manifest.Rounds.SelectMany(r => r.Attempts).Select(a => $"{a.LeaseId}@{a.AgentId}:{a.Outcome}"))}";
            return index >= 0;
        }, () => $"an agent running a shard (the run: {seen})");
        return index;
    }

    /// <summary>The run's manifest as the primary holds it now, read through the store's own code; null when it cannot be read.</summary>
    private static async Task<RunManifest?> StoredManifestAsync(SoakStore store, string jobId)
    {
        try
        {
            using var mux = await store.ConnectAsync();
            return await new RedisRunStore(mux, Microsoft.Extensions.Logging.Abstractions.NullLogger<RedisRunStore>.Instance).GetAsync(jobId);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or InvalidOperationException or TimeoutException)
        {
            return null;
        }
    }

    private static int StoredMergedShards(SoakStore store, string jobId) =>
        StoredManifestAsync(store, jobId).GetAwaiter().GetResult()?.Rounds.Sum(r => r.MergedResults.Count) ?? 0;

    private static int MergedShards(SoakCoordinators coordinators, string jobId) =>
        RunManifest.FromJson(coordinators.Call(c => c.GetManifest(new GetJobRequest { JobId = jobId })).Json).Rounds.Sum(r => r.MergedResults.Count);

    private static Task WaitAsync(Func<bool> condition, string what) => WaitAsync(condition, () => what);

    private static async Task WaitAsync(Func<bool> condition, Func<string> what)
    {
        var deadline = Stopwatch.StartNew();
        while (!Holds(condition))
        {
            if (deadline.Elapsed > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException($"soak: waited 2 minutes for {what()}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>The condition, false while no coordinator answers (one restarting, a takeover under way).</summary>
    private static bool Holds(Func<bool> condition)
    {
        try
        {
            return condition();
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled)
        {
            return false;
        }
    }

    /// <summary>The run's end state, riding out a coordinator that is still starting or a takeover.</summary>
    private static async Task<JobState> FinalStateAsync(SoakCoordinators coordinators, string jobId)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(5))
        {
            try
            {
                var state = coordinators.Call(c => c.GetJob(new GetJobRequest { JobId = jobId }, deadline: DateTime.UtcNow.AddSeconds(10))).State;
                if (state is JobState.Succeeded or JobState.Failed or JobState.Cancelled)
                {
                    return state;
                }
            }
            catch (RpcException)
            {
            }

            await Task.Delay(250);
        }

        return JobState.Unspecified;
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", $"-{signal} {pid.ToString(CultureInfo.InvariantCulture)}");
        kill.WaitForExit();
    }

    private static string Tail(string output) => string.Join("\n", output.Split('\n').TakeLast(30));

    private static int OpenFiles(int pid)
    {
        try
        {
            return Directory.GetFiles($"/proc/{pid}/fd").Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>
    /// `rmtc shard run` and `rmtc trainer serve` processes of this build alive on this machine: those of other
    /// checkouts (another soak, a test suite running beside it) are not the soak's to count.
    /// </summary>
    private static int Trainers()
    {
        var ours = Path.Combine(AppContext.BaseDirectory, "rmtc.dll");
        var count = 0;
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.Contains(ours + "\0shard\0run", StringComparison.Ordinal) || cmdline.Contains(ours + "\0trainer\0serve", StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        return count;
    }
}
