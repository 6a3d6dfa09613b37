using System.Diagnostics;
using System.Globalization;

namespace RMTC.Farm.Core.Tests.Images;

/// <summary>OpenImageIO's oiiotool (Debian's openimageio-tools, installed by farm/scripts/test.sh): an independent EXR reader and writer.</summary>
internal static class Oiiotool
{
    public static string Run(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("oiiotool") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("oiiotool did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"oiiotool {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Result}{stdout}");
        return stdout;
    }

    /// <summary>The per-channel means of every subimage, from <c>oiiotool --stats</c>.</summary>
    public static List<double[]> Averages(string directory, string file) =>
        Run(directory, "--stats", "-a", file).Split('\n')
            .Where(line => line.TrimStart().StartsWith("Stats Avg:", StringComparison.Ordinal))
            .Select(line => line.Split(':')[1].Split('(')[0]
                .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray())
            .ToList();
}
