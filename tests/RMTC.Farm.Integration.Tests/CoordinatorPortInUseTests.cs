using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace RMTC.Farm.Integration.Tests;

/// <summary>A second coordinator on a machine, or any process on its ports: a last line naming the port and the setting to change.</summary>
public sealed class CoordinatorPortInUseTests
{
    [Theory]
    [InlineData("--opencue-port", "the OpenCue port (--opencue-port, Coordinator:OpenCuePort; -1 turns it off)")]
    [InlineData("--port", "the gRPC port (--port, Coordinator:Port)")]
    public async Task A_port_held_by_another_process_is_named_with_the_setting_to_change(string flag, string setting)
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var busy = ((IPEndPoint)holder.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        var data = Directory.CreateTempSubdirectory("rmtc-port-").FullName;
        try
        {
            var ports = new Dictionary<string, string> { ["--port"] = "0", ["--metrics-port"] = "-1", ["--opencue-port"] = "-1" };
            ports[flag] = busy;
            var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1),
                ["coordinator", "--data-dir", data, .. ports.SelectMany(p => new[] { p.Key, p.Value })]);

            Assert.True(code == 2, output);
            Assert.Contains($"error: cannot listen on http://127.0.0.1:{busy}: another process holds it", output, StringComparison.Ordinal);
            Assert.Contains($"give {setting} another value; 0 picks a free port", output, StringComparison.Ordinal);
            // The host's own log of the failure comes first; what the user reads last is the fix.
            Assert.StartsWith("error: cannot listen on", output.TrimEnd().Split('\n')[^1], StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
