namespace RMTC.Farm.Benchmarks;

/// <summary>This process's resident memory from /proc: current, and the peak since the last <see cref="ResetPeak"/>.</summary>
internal static class ProcessMemory
{
    /// <summary>Current resident set in bytes (VmRSS).</summary>
    public static long Resident => Read("VmRSS:");

    /// <summary>Peak resident set in bytes (VmHWM) since the process started or the last reset.</summary>
    public static long Peak => Read("VmHWM:");

    /// <summary>
    /// Collects garbage, then resets the kernel's high-water mark to the current resident set (writing 5 to clear_refs),
    /// so a phase's peak is measured without the phases before it. Returns the resident set at the reset.
    /// </summary>
    public static long ResetPeak()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        File.WriteAllText("/proc/self/clear_refs", "5");
        return Resident;
    }

    /// <summary>Another process's resident set (VmRSS) and peak (VmHWM) in bytes; 0 when it has gone.</summary>
    public static (long Resident, long Peak) Of(int pid)
    {
        try
        {
            return (Read("VmRSS:", $"/proc/{pid}/status"), Read("VmHWM:", $"/proc/{pid}/status"));
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            return (0, 0);
        }
    }

    private static long Read(string field, string status = "/proc/self/status")
    {
        foreach (var line in File.ReadLines(status))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                // "VmRSS:	  123456 kB"
                var kb = long.Parse(line.AsSpan(field.Length).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
                return kb * 1024;
            }
        }

        throw new InvalidOperationException($"{status} has no {field} line");
    }
}
