using System.Diagnostics;
using System.Runtime.InteropServices;

namespace RMTC.Farm.Agent.Execution.Supervision;

/// <summary>
/// A child process in a process group of its own, like a render frame under RQD: cancelling signals the whole
/// group, so whatever the trainer started stops with it.
/// </summary>
public sealed partial class ProcessGroup : IDisposable
{
    private const int SIGKILL = 9;
    private const int SIGTERM = 15;
    private const int SIGUSR1 = 10;
    private readonly Process _process;

    private ProcessGroup(Process process) => _process = process;

    /// <summary>The child's pid, also its process group id.</summary>
    public int Id => _process.Id;

    /// <summary>The child process (its output streams, its exit).</summary>
    public Process Process => _process;

    /// <summary>
    /// Starts <paramref name="executable"/> as the leader of a new session and process group (through setsid(1),
    /// which execs in place, so the pid we hold is the trainer's). Standard output and error are redirected, and standard
    /// input too with <paramref name="redirectInput"/> (a warm trainer reads its tasks there).
    /// </summary>
    public static ProcessGroup Start(string executable, IEnumerable<string> arguments, string workingDirectory, IDictionary<string, string>? environment = null,
        bool redirectInput = false)
    {
        var setsid = File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : File.Exists("/bin/setsid") ? "/bin/setsid" : null;
        var info = new ProcessStartInfo
        {
            FileName = setsid ?? executable,
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        if (setsid is not null)
        {
            info.ArgumentList.Add(executable);
        }

        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                info.Environment[k] = v;
            }
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {executable}");
        return new ProcessGroup(process);
    }

    /// <summary>SIGTERM to the group, then SIGKILL after <paramref name="grace"/> if it is still running.</summary>
    public async Task StopAsync(TimeSpan grace, TimeProvider time)
    {
        if (_process.HasExited)
        {
            return;
        }

        Signal(SIGTERM);
        using var timeout = new CancellationTokenSource(grace, time);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Signal(SIGKILL);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// SIGUSR1 to the trainer alone (not its group: a helper it started would die of the signal's default action): it
    /// writes a checkpoint before its next batch and exits with the yielded code.
    /// </summary>
    public void RequestYield()
    {
        try
        {
            if (!_process.HasExited && !OperatingSystem.IsWindows())
            {
                _ = Kill(_process.Id, SIGUSR1);
            }
        }
        catch (InvalidOperationException)
        {
            // Already ended and released: nothing to stop.
        }
    }

    /// <summary>SIGKILL to the whole group at once.</summary>
    public void Kill() => Signal(SIGKILL);

    private void Signal(int signal)
    {
        if (OperatingSystem.IsWindows())
        {
            _process.Kill(entireProcessTree: true);
            return;
        }

        // Negative pid: every process of the group. Fall back to the process alone if the group is gone.
        if (Kill(-_process.Id, signal) != 0)
        {
            _ = Kill(_process.Id, signal);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Releases the process handle; the process itself is not touched.</summary>
    public void Dispose() => _process.Dispose();
}
