using System.Diagnostics;
using System.Globalization;
using System.Text;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// A real farm on loopback for one test: the coordinator (Kestrel on 127.0.0.1:0, file store in a temp dir)
/// and agents as real `rmtc agent` processes. Disposing stops everything and deletes the files.
/// </summary>
public sealed class FarmFixture : IAsyncDisposable
{
    private readonly List<AgentProcess> _agents = new();

    private readonly int _leaseTimeoutMs;
    private readonly int _heartbeatMs;

    private FarmFixture(WebApplication app, string root, int leaseTimeoutMs, int heartbeatMs)
    {
        App = app;
        Root = root;
        _leaseTimeoutMs = leaseTimeoutMs;
        _heartbeatMs = heartbeatMs;
        Address = app.BoundAddress().ToString().TrimEnd('/');
        Channel = GrpcChannel.ForAddress(Address);
        Jobs = new JobService.JobServiceClient(Channel);
    }

    public WebApplication App { get; private set; }
    public string Root { get; }
    public string Address { get; }
    public GrpcChannel Channel { get; }
    public JobService.JobServiceClient Jobs { get; }
    public FarmScheduler Scheduler => App.Services.GetRequiredService<FarmScheduler>();
    public IArtifactStore Artifacts => App.Services.GetRequiredService<IArtifactStore>();

    /// <summary>The coordinator's data directory (<c>Coordinator:DataDirectory</c>).</summary>
    public string DataDirectory => Path.Combine(Root, "farm");
    public IReadOnlyList<AgentProcess> Agents => _agents;

    /// <param name="dataPlanePort">Coordinator:DataPlane:Port: 0 a free port (the default), -1 none (agents use gRPC).</param>
    public static async Task<FarmFixture> StartAsync(int leaseTimeoutMs = 3000, int heartbeatMs = 250, string? redis = null, int dataPlanePort = 0)
    {
        var root = Directory.CreateTempSubdirectory("rmtc-it-").FullName;
        var app = await StartCoordinatorAsync(root, 0, leaseTimeoutMs, heartbeatMs, redis, dataPlanePort);
        return new FarmFixture(app, root, leaseTimeoutMs, heartbeatMs) { _redis = redis, _dataPlanePort = dataPlanePort };
    }

    private string? _redis;
    private int _dataPlanePort;

    private static async Task<WebApplication> StartCoordinatorAsync(string root, int port, int leaseTimeoutMs, int heartbeatMs, string? redis = null, int dataPlanePort = 0)
    {
        var app = CoordinatorHost.Create(c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Coordinator:DataDirectory"] = Path.Combine(root, "farm"),
            ["Coordinator:Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["Coordinator:LeaseTimeoutMs"] = leaseTimeoutMs.ToString(CultureInfo.InvariantCulture),
            ["Coordinator:HeartbeatIntervalMs"] = heartbeatMs.ToString(CultureInfo.InvariantCulture),
            ["Coordinator:Redis"] = redis,
            ["Coordinator:MetricsPort"] = "0",
            ["Coordinator:OpenCuePort"] = "0",
            ["Coordinator:DataPlane:Port"] = dataPlanePort.ToString(CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
        }));
        await app.StartAsync();
        return app;
    }

    /// <summary>Stops the coordinator, waits <paramref name="down"/>, and starts a new one on the same port and data directory.</summary>
    public async Task RestartCoordinatorAsync(TimeSpan down)
    {
        var port = new Uri(Address).Port;
        await App.StopAsync();
        await App.DisposeAsync();
        await Task.Delay(down);
        App = await StartCoordinatorAsync(Root, port, _leaseTimeoutMs, _heartbeatMs, _redis, _dataPlanePort);
    }

    /// <summary>Starts `rmtc agent` processes and waits until all of them hold a session.</summary>
    public async Task<IReadOnlyList<AgentProcess>> StartAgentsAsync(int count, string prefix = "agent", IDictionary<string, string>? environment = null)
    {
        var started = new List<AgentProcess>();
        var before = Scheduler.ConnectedAgents;
        for (var i = 0; i < count; i++)
        {
            var id = $"{prefix}-{_agents.Count + 1}";
            var agent = AgentProcess.Start(Address, id, Path.Combine(Root, "agents", id), environment);
            _agents.Add(agent);
            started.Add(agent);
        }

        await WaitUntilAsync(() => Scheduler.ConnectedAgents >= before + count, TimeSpan.FromSeconds(60), () => "agents did not connect:\n" + string.Join("\n", started.Select(a => a.Output)));
        return started;
    }

    /// <summary>Writes a procedural dataset under the fixture's root.</summary>
    public string Synthesize(string recipe, int samples, long seed = 3)
    {
        var dir = Path.Combine(Root, $"data-{recipe}-{samples.ToString(CultureInfo.InvariantCulture)}-{seed.ToString(CultureInfo.InvariantCulture)}");
        if (!Directory.Exists(dir))
        {
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize(recipe, dir, samples, seed);
        }

        return dir;
    }

    public async Task<Job> SubmitAsync(string yaml) =>
        (await Jobs.SubmitJobAsync(new SubmitJobRequest { SpecYaml = yaml, BaseDirectory = Root, SourceName = "test.yaml" })).Job;

    /// <summary>
    /// Submits with the run's initial weights built in the test process instead of by a prepare task, so round 1 starts at
    /// once: for tests that play the agent's side of the wire by hand, or watch a run's first events with no agent.
    /// </summary>
    public async Task<RunStatus> SubmitPreparedAsync(string yaml)
    {
        var job = Scheduler.SubmitPrepared(new JobSubmission { SpecYaml = yaml, BaseDirectory = Root, SourceName = "test.yaml" });
        await Scheduler.WhenRecordedAsync(job.Id, CancellationToken.None);
        return job;
    }

    /// <summary>Waits for the job to end (following its events) and returns it.</summary>
    public async Task<Job> WaitAsync(string jobId, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        Job? last = null;
        using var call = Jobs.WatchJob(new WatchJobRequest { JobId = jobId }, cancellationToken: cts.Token);
        try
        {
            while (await call.ResponseStream.MoveNext(cts.Token))
            {
                last = call.ResponseStream.Current.Job;
            }
        }
        catch (Grpc.Core.RpcException e) when (e.StatusCode == Grpc.Core.StatusCode.Cancelled)
        {
            throw new TimeoutException($"job {jobId} did not finish in {timeout}; last state {last}\n{AgentLogs()}");
        }

        await Scheduler.FlushAsync();
        return await Jobs.GetJobAsync(new GetJobRequest { JobId = jobId });
    }

    public string AgentLogs() => string.Join("\n", _agents.Select(a => $"--- {a.Id} ---\n{a.Output}"));

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> explain)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(explain());
            }

            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var a in _agents)
        {
            a.Dispose();
        }

        Channel.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A real `rmtc agent` process.</summary>
public sealed class AgentProcess : RmtcProcess
{
    private AgentProcess(string id, IEnumerable<string> arguments, IDictionary<string, string> environment)
        : base(arguments, environment) => Id = id;

    public string Id { get; }

    /// <summary>
    /// One training slot: two such agents run a 4-shard round in two waves, so "some, not all, of the round's results are
    /// in" holds for a whole wave, not only for the spread of four shards finishing together.
    /// </summary>
    public static IDictionary<string, string> OneSlot { get; } = new Dictionary<string, string> { ["RMTC_Agent__Slots"] = "1" };

    public static AgentProcess Start(string coordinator, string id, string workDir, IDictionary<string, string>? environment = null) => new(
        id,
        ["agent", "--coordinator", coordinator, "--id", id, "--work-dir", workDir, "--threads", "1", "--exit-with-parent", Environment.ProcessId.ToString(CultureInfo.InvariantCulture)],
        new Dictionary<string, string>(environment ?? new Dictionary<string, string>()) { ["RMTC_Agent__CancelGraceMs"] = "2000" });
}

/// <summary>Where the built `rmtc` is: the test project references the CLI, so rmtc.dll sits beside the tests.</summary>
public static class RmtcCli
{
    public static string Dll { get; } = Path.Combine(AppContext.BaseDirectory, "rmtc.dll");

    public static string Dotnet { get; } = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet"
        ? p
        : "dotnet";

    /// <summary>Runs `rmtc ARGS` to completion and returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> RunAsync(TimeSpan timeout, params string[] args) =>
        RunProcessAsync(Dotnet, [Dll, .. args], timeout, "rmtc " + string.Join(' ', args));

    /// <summary>Runs any program to completion (killed with its children after <paramref name="timeout"/>); its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunProcessAsync(string file, IEnumerable<string> args, TimeSpan timeout, string? name = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        name ??= $"{file} {string.Join(' ', info.ArgumentList)}";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{name} did not finish in {timeout}: {await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
