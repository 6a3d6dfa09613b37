using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RMTC.Farm.Integration.Tests;

/// <summary>`rmtc coordinator` as a real process, so tests can SIGKILL it and start it again on the same store.</summary>
public sealed class CoordinatorProcess : IDisposable
{
    private readonly StringBuilder _output = new();

    private CoordinatorProcess(Process process, string address)
    {
        Process = process;
        Address = address;
    }

    public Process Process { get; }
    public string Address { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts the coordinator and waits until it says it listens.</summary>
    public static async Task<CoordinatorProcess> StartAsync(string dataDir, int port, string? redis = null, int leaseTimeoutMs = 4000)
    {
        var info = new ProcessStartInfo(RmtcCli.Dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var args = new List<string> { RmtcCli.Dll, "coordinator", "--data-dir", dataDir, "--port", port.ToString(CultureInfo.InvariantCulture), "--lease-timeout-ms", leaseTimeoutMs.ToString(CultureInfo.InvariantCulture) };
        if (redis is not null)
        {
            args.AddRange(["--redis", redis]);
        }

        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["RMTC_Coordinator__HeartbeatIntervalMs"] = "250";
        var coordinator = new CoordinatorProcess(Process.Start(info)!, $"http://127.0.0.1:{port}");
        coordinator.Process.OutputDataReceived += (_, e) => coordinator.Append(e.Data);
        coordinator.Process.ErrorDataReceived += (_, e) => coordinator.Append(e.Data);
        coordinator.Process.BeginOutputReadLine();
        coordinator.Process.BeginErrorReadLine();
        await FarmFixture.WaitUntilAsync(() => coordinator.Output.Contains("listening on") || coordinator.Process.HasExited, TimeSpan.FromSeconds(60),
            () => "the coordinator did not start:\n" + coordinator.Output);
        if (coordinator.Process.HasExited)
        {
            throw new InvalidOperationException("the coordinator exited:\n" + coordinator.Output);
        }

        return coordinator;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <summary>SIGKILL: no shutdown, no flush, as a crash.</summary>
    public void Kill()
    {
        Process.Kill(entireProcessTree: false);
        Process.WaitForExit();
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit(10_000);
        }

        Process.Dispose();
    }
}
