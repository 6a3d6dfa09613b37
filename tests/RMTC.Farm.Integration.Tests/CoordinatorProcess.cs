using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace RMTC.Farm.Integration.Tests;

/// <summary>`rmtc coordinator` as a real process, so tests can SIGKILL it and start it again on the same store.</summary>
public sealed class CoordinatorProcess : RmtcProcess
{
    private CoordinatorProcess(IEnumerable<string> arguments, string address)
        : base(arguments, new Dictionary<string, string> { ["RMTC_Coordinator__HeartbeatIntervalMs"] = "250", ["RMTC_Coordinator__MetricsPort"] = "0", ["RMTC_Coordinator__OpenCuePort"] = "-1" }) => Address = address;

    public string Address { get; }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts the coordinator and waits until it says it listens.</summary>
    public static async Task<CoordinatorProcess> StartAsync(string dataDir, int port, string? redis = null, int leaseTimeoutMs = 4000)
    {
        var args = new List<string> { "coordinator", "--data-dir", dataDir, "--port", port.ToString(CultureInfo.InvariantCulture), "--lease-timeout-ms", leaseTimeoutMs.ToString(CultureInfo.InvariantCulture) };
        if (redis is not null)
        {
            args.AddRange(["--redis", redis]);
        }

        var coordinator = new CoordinatorProcess(args, $"http://127.0.0.1:{port}");
        await FarmFixture.WaitUntilAsync(() => coordinator.Output.Contains("listening on") || coordinator.Process.HasExited, TimeSpan.FromSeconds(60),
            () => "the coordinator did not start:\n" + coordinator.Output);
        if (coordinator.Process.HasExited)
        {
            throw new InvalidOperationException("the coordinator exited:\n" + coordinator.Output);
        }

        return coordinator;
    }
}
