using System.Diagnostics;

namespace RMTC.Farm.Integration.Tests.OpenCue;

/// <summary>
/// Runs <c>pycue_calls.py</c>: OpenCue calls made as pycue makes them, on Debian's python3-grpcio (farm/scripts/test.sh
/// installs it), one output line per call: <c>CALL ok RESULT</c> or <c>CALL STATUS_CODE DETAILS</c>.
/// </summary>
public static class PycueCalls
{
    /// <summary>Makes <paramref name="calls"/> (e.g. <c>stats</c>, <c>launch=/tmp/a.xml</c>, <c>kill=ID</c>) against <paramref name="hostPort"/>.</summary>
    public static async Task<IReadOnlyList<string>> RunAsync(string hostPort, params string[] calls)
    {
        // The system interpreter: Debian's python3-grpcio lives with it, not with a pyenv or venv python on PATH.
        var python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OpenCue", "pycue_calls.py"));
        info.ArgumentList.Add(hostPort);
        foreach (var call in calls)
        {
            info.ArgumentList.Add(call);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token);
        var output = await stdout;
        Assert.True(process.ExitCode == 0, output + await stderr);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == calls.Length, $"expected {calls.Length} lines:\n{output}{await stderr}");
        return lines;
    }
}
