using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace RMTC.Farm.Integration.Tests;

/// <summary>`rmtc coordinator` as a real process, so tests can SIGKILL it and start it again on the same store.</summary>
public sealed class CoordinatorProcess : RmtcProcess
{
    private CoordinatorProcess(IEnumerable<string> arguments, string address, IDictionary<string, string>? environment)
        : base(arguments, WithDefaults(environment)) => Address = address;

    public string Address { get; }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts the coordinator and waits until it says it listens. <paramref name="environment"/> adds or overrides settings (RMTC_Coordinator__*).</summary>
    public static async Task<CoordinatorProcess> StartAsync(string dataDir, int port, string? redis = null, int leaseTimeoutMs = 4000, IDictionary<string, string>? environment = null)
    {
        var args = new List<string> { "coordinator", "--data-dir", dataDir, "--port", port.ToString(CultureInfo.InvariantCulture), "--lease-timeout-ms", leaseTimeoutMs.ToString(CultureInfo.InvariantCulture) };
        if (redis is not null)
        {
            args.AddRange(["--redis", redis]);
        }

        var coordinator = new CoordinatorProcess(args, $"http://127.0.0.1:{port}", environment);
        await FarmFixture.WaitUntilAsync(() => coordinator.Output.Contains("listening on") || coordinator.Process.HasExited, TimeSpan.FromSeconds(60),
            () => "the coordinator did not start:\n" + coordinator.Output);
        if (coordinator.Process.HasExited)
        {
            throw new InvalidOperationException("the coordinator exited:\n" + coordinator.Output);
        }

        return coordinator;
    }

    private static Dictionary<string, string> WithDefaults(IDictionary<string, string>? extra)
    {
        var environment = new Dictionary<string, string> { ["RMTC_Coordinator__HeartbeatIntervalMs"] = "250", ["RMTC_Coordinator__MetricsPort"] = "0", ["RMTC_Coordinator__OpenCuePort"] = "-1" };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        return environment;
    }
}
