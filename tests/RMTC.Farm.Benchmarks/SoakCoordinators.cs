using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using RMTC.Farm.Integration.Tests;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// The soak's coordinators: one, restarted by the soak where a fault says so; or two with leader election on, watched
/// by a supervisor that starts any that ended again 1 s later, as <c>farm/systemd</c>'s <c>Restart=always</c>,
/// <c>RestartSec=1</c> does, so the farm keeps two (a SIGKILLed leader, one that stepped down and exited 75).
/// </summary>
internal sealed class SoakCoordinators : IAsyncDisposable
{
    /// <summary>The leader lease of the failover soak, as farm/systemd's leadership.conf sets it.</summary>
    public const int LeaseMs = 3000;

    private readonly string _farmDir;
    private readonly SoakStore _store;
    private readonly int _leaseTimeoutMs;
    private readonly int[] _ports;
    private readonly CoordinatorProcess?[] _processes;
    private readonly GrpcChannel[] _channels;
    private readonly List<CoordinatorProcess> _ended = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _supervisor = Task.CompletedTask;
    private long _peak;

    private SoakCoordinators(string farmDir, SoakStore store, int leaseTimeoutMs, int count)
    {
        (_farmDir, _store, _leaseTimeoutMs) = (farmDir, store, leaseTimeoutMs);
        _ports = Enumerable.Range(0, count).Select(_ => CoordinatorProcess.FreePort()).ToArray();
        _processes = new CoordinatorProcess?[count];
        _channels = _ports.Select(p => GrpcChannel.ForAddress(Address(p))).ToArray();
    }

    /// <summary>Whether leader election is on (two coordinators).</summary>
    public bool Leadership => _ports.Length > 1;

    /// <summary>Every coordinator's address, as agents and the CLI take them.</summary>
    public string Addresses => string.Join(',', _ports.Select(Address));

    /// <summary>Coordinators that ended (killed, stepped down) and were started again: exit code and why.</summary>
    public List<(int ExitCode, string Why)> Restarts { get; } = [];

    /// <summary>The highest VmHWM seen of any coordinator process, sampled while they ran.</summary>
    public long PeakMemory => Interlocked.Read(ref _peak);

    public static async Task<SoakCoordinators> StartAsync(string farmDir, SoakStore store, int leaseTimeoutMs, int count)
    {
        var set = new SoakCoordinators(farmDir, store, leaseTimeoutMs, count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                set._processes[i] = await set.StartOneAsync(i);
                // The first one leads: the others start once it serves.
                await set.WaitServingAsync(0, TimeSpan.FromSeconds(60));
            }

            if (set.Leadership)
            {
                set._supervisor = set.SuperviseAsync(set._stop.Token);
            }

            return set;
        }
        catch
        {
            await set.DisposeAsync();
            throw;
        }
    }

    /// <summary>The process of coordinator <paramref name="index"/> now (a restart replaces it).</summary>
    public CoordinatorProcess this[int index]
    {
        get
        {
            lock (_lock)
            {
                return _processes[index] ?? throw new InvalidOperationException($"coordinator {index} is being restarted");
            }
        }
    }

    public GrpcChannel Channel(int index) => _channels[index];

    public string AddressOf(int index) => Address(_ports[index]);

    /// <summary>Index of the coordinator that serves calls (the leader); waits up to <paramref name="timeout"/> for one.</summary>
    public async Task<int> LeaderAsync(TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            for (var i = 0; i < _ports.Length; i++)
            {
                if (Serving(i))
                {
                    return i;
                }
            }

            if (waited.Elapsed > timeout)
            {
                throw new TimeoutException($"soak: no coordinator served for {timeout.TotalSeconds:F0} s:\n{Tails()}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Waits until coordinator <paramref name="index"/> serves calls instead of refusing them as a standby.</summary>
    public async Task WaitServingAsync(int index, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (!Serving(index))
        {
            if (waited.Elapsed > timeout)
            {
                throw new TimeoutException($"soak: {AddressOf(index)} did not serve within {timeout.TotalSeconds:F0} s:\n{Tails()}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Asks whichever coordinator serves: the first answer that is no refusal (a standby's, a dead one's). While none
    /// serves (a takeover under way, both restarting) it asks again for up to a minute, then throws the last refusal.
    /// </summary>
    public T Call<T>(Func<JobService.JobServiceClient, T> call)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            RpcException? last = null;
            foreach (var channel in _channels)
            {
                try
                {
                    return call(new JobService.JobServiceClient(channel));
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled)
                {
                    last = e;
                }
            }

            if (waited.Elapsed > TimeSpan.FromMinutes(1))
            {
                throw last!;
            }

            Thread.Sleep(200);
        }
    }

    /// <summary>SIGKILL (no restart in the single-coordinator soak: see <see cref="RestartAsync"/>; the supervisor restarts it otherwise).</summary>
    public void Kill(int index)
    {
        var process = this[index];
        SamplePeak(process);
        process.Kill();
    }

    /// <summary>Kills coordinator <paramref name="index"/> if it runs and starts it again on the same store (single-coordinator soak).</summary>
    public async Task RestartAsync(int index, Func<Task>? between = null)
    {
        var process = this[index];
        SamplePeak(process);
        process.Kill();
        process.Dispose();
        if (between is not null)
        {
            await between();
        }

        var started = await StartOneAsync(index);
        lock (_lock)
        {
            _processes[index] = started;
        }
    }

    /// <summary>Records the coordinator's peak memory (VmHWM) while its process is alive.</summary>
    public void SamplePeak(CoordinatorProcess process)
    {
        try
        {
            var peak = ProcessMemory.Of(process.Process.Id).Peak;
            long seen;
            while (peak > (seen = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, peak, seen) != seen)
            {
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            // It ended between the look and the read.
        }
    }

    /// <summary>The last lines of every coordinator's output, for a failure message.</summary>
    public string Tails()
    {
        lock (_lock)
        {
            return string.Join("\n", _processes.Select((p, i) => $"--- {AddressOf(i)}:\n{Tail(p?.Output ?? "(restarting)")}"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _supervisor;
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        lock (_lock)
        {
            foreach (var p in _processes.Concat(_ended))
            {
                p?.Dispose();
            }
        }

        _stop.Dispose();
    }

    private static string Address(int port) => $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";

    private static string Tail(string output, int lines = 30) => string.Join("\n", output.Split('\n').TakeLast(lines));

    private bool Serving(int index)
    {
        try
        {
            new JobService.JobServiceClient(_channels[index]).ListJobs(new ListJobsRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
            return true;
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled)
        {
            return false;
        }
    }

    private Task<CoordinatorProcess> StartOneAsync(int index)
    {
        var environment = new Dictionary<string, string>(_store.CoordinatorEnvironment);
        if (Leadership)
        {
            environment["RMTC_Coordinator__Leadership__Enabled"] = "true";
            environment["RMTC_Coordinator__Leadership__AdvertisedAddress"] = AddressOf(index);
            environment["RMTC_Coordinator__Leadership__LeaseMs"] = LeaseMs.ToString(CultureInfo.InvariantCulture);
            environment["RMTC_Coordinator__Leadership__RenewIntervalMs"] = "1000";
            // Takeovers and step-downs are logged at Information and Warning: the soak reads them.
            environment["Logging__LogLevel__Default"] = "Information";
        }

        return CoordinatorProcess.StartAsync(_farmDir, _ports[index], _store.RedisArgument, _leaseTimeoutMs, environment);
    }

    /// <summary>systemd's part: a coordinator that ended is started again 1 s later; peak memory sampled meanwhile.</summary>
    private async Task SuperviseAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            for (var i = 0; i < _ports.Length; i++)
            {
                CoordinatorProcess? process;
                lock (_lock)
                {
                    process = _processes[i];
                }

                if (process is { Process.HasExited: false })
                {
                    SamplePeak(process);
                    continue;
                }

                if (process is not null)
                {
                    var code = process.Process.ExitCode;
                    var why = process.Output.Split('\n').LastOrDefault(l => l.Contains("Stepped down as leader", StringComparison.Ordinal))?.Trim() ?? "";
                    lock (_lock)
                    {
                        _ended.Add(process);
                        _processes[i] = null;
                        Restarts.Add((code, why));
                    }

                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                }

                try
                {
                    var started = await StartOneAsync(i);
                    lock (_lock)
                    {
                        _processes[i] = started;
                    }
                }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException)
                {
                    // As systemd would: try again at the next look.
                    lock (_lock)
                    {
                        Restarts.Add((-1, $"did not start: {Tail(e.Message, 5)}"));
                    }
                }
            }

            await Task.Delay(200, ct);
        }
    }
}
