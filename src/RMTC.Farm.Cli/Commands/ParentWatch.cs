using System.Diagnostics;
using Microsoft.Extensions.Hosting;

namespace RMTC.Farm.Cli.Commands;

/// <summary>Stops a host when the process that started it is gone, so demo agents never outlive the demo.</summary>
internal static class ParentWatch
{
    public static async Task StopWhenGoneAsync(int pid, IHostApplicationLifetime lifetime, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(500, ct);
                if (!IsAlive(pid))
                {
                    lifetime.StopApplication();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
