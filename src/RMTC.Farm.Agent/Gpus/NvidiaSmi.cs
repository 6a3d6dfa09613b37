using System.Diagnostics;

namespace RMTC.Farm.Agent.Gpus;

/// <summary>Runs nvidia-smi once. No nvidia-smi, a failure or a hang all mean "no answer", never an exception.</summary>
internal static class NvidiaSmi
{
    /// <summary>nvidia-smi's standard output for <paramref name="arguments"/>, or null when it gave none in time.</summary>
    public static string? Run(string arguments, TimeSpan timeout)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("nvidia-smi", arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return null;
            }

            var output = process.StandardOutput.ReadToEndAsync();
            // Drained so a chatty failure cannot fill the pipe and stall the process.
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill();
                return null;
            }

            return process.ExitCode == 0 ? output.Result : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // nvidia-smi is not installed: a CPU node.
            return null;
        }
    }
}
