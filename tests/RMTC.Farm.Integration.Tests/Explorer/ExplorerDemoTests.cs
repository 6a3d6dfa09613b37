using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>`rmtc demo --explore`: the demo prints the Explorer's address and keeps serving it after the run until Ctrl+C.</summary>
public sealed partial class ExplorerDemoTests
{
    [Fact]
    public async Task Demo_prints_the_explorer_address_and_with_explore_serves_the_finished_run_until_interrupted()
    {
        var dir = Directory.CreateTempSubdirectory("rmtc-demo-explore-").FullName;
        using var demo = new DemoProcess(["demo", "--agents", "2", "--rounds", "1", "--recipe", "classifier", "--samples", "96", "--explore", "--out", dir]);
        try
        {
            await FarmFixture.WaitUntilAsync(() => demo.Output.Contains("Explorer serving at", StringComparison.Ordinal) || demo.Process.HasExited, TimeSpan.FromMinutes(4), () => demo.Output);
            Assert.False(demo.Process.HasExited, demo.Output);
            Assert.Matches(@"Explorer: http://127\.0\.0\.1:\d+/explorer/", demo.Output);
            var address = new Uri(ServingAt().Match(demo.Output).Groups[1].Value);

            using var http = new HttpClient();
            var runs = JsonNode.Parse(await http.GetStringAsync(new Uri(address, "api/runs")))!["runs"]!.AsArray();
            Assert.Equal("succeeded", (string)Assert.Single(runs)!["state"]!);
            Assert.Contains("RMTC Explorer", await http.GetStringAsync(address));

            // Ctrl+C ends it cleanly. A suite started as a background job of a non-interactive shell hands its children
            // SIGINT ignored (POSIX), which no process can undo for itself: there the stop request is SIGTERM, handled alike.
            var signal = SigIntIgnored(demo.Process.Id) ? "-TERM" : "-INT";
            using (var interrupt = Process.Start("kill", [signal, demo.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await interrupt.WaitForExitAsync();
            }

            // The demo stops its agents (each may take its graceful stop) and its coordinator: on a loaded 2-core machine
            // with other suites' processes running this once took over a minute.
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await demo.Process.WaitForExitAsync(cts.Token);
            Assert.True(demo.Process.ExitCode == 0, demo.Output);
        }
        finally
        {
            if (!demo.Process.HasExited)
            {
                demo.Process.Kill(entireProcessTree: true);
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>True when the process ignores SIGINT (bit 2 of SigIgn in /proc/PID/status).</summary>
    private static bool SigIntIgnored(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 0x2) != 0;
    }

    [GeneratedRegex(@"Explorer serving at (\S+)")]
    private static partial Regex ServingAt();

    private sealed class DemoProcess(IEnumerable<string> arguments) : RmtcProcess(arguments);
}
