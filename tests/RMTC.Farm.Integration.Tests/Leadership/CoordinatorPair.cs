using System.Globalization;

namespace RMTC.Farm.Integration.Tests.Leadership;

/// <summary>Two `rmtc coordinator` processes with leader election on, sharing one Redis store and one data directory (artifacts).</summary>
internal static class CoordinatorPair
{
    /// <summary>Starts a coordinator that takes part in election, advertised at its own loopback address.</summary>
    public static Task<CoordinatorProcess> StartAsync(string farmDir, string redis, int port) =>
        CoordinatorProcess.StartAsync(farmDir, port, redis, environment: new Dictionary<string, string>
        {
            ["RMTC_Coordinator__Leadership__Enabled"] = "true",
            ["RMTC_Coordinator__Leadership__AdvertisedAddress"] = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
            ["RMTC_Coordinator__Leadership__LeaseMs"] = "3000",
            ["RMTC_Coordinator__Leadership__RenewIntervalMs"] = "1000",
            ["Logging__LogLevel__Default"] = "Information",
        });

    /// <summary>Pauses (SIGSTOP) or resumes (SIGCONT) a process, as a long GC pause or a frozen VM would.</summary>
    public static void Signal(System.Diagnostics.Process process, bool pause)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [pause ? "-STOP" : "-CONT", process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill {(pause ? "-STOP" : "-CONT")} {process.Id} failed with exit code {kill.ExitCode}");
        }
    }
}
