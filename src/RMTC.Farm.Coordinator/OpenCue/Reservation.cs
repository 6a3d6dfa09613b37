using RMTC.Farm.Coordinator.Scheduling;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// What one lease (a proc) reserves on its agent, in OpenCue's units: the cores, memory, GPUs and GPU memory its job's
/// spec declares, nothing more. Procs show it and hosts' idle resources are their totals less the sum of it, so the two
/// always agree.
/// </summary>
/// <param name="Cores">Cores the job declares (0 when none).</param>
/// <param name="MemoryKb">Memory in KB: the job's, or <see cref="UndeclaredMemoryKb"/> when it declares none.</param>
/// <param name="GpuMemoryKb">GPU memory in KB the job declares (0 when none).</param>
/// <param name="Gpus">GPUs the job declares (0 when none).</param>
internal readonly record struct Reservation(double Cores, long MemoryKb, long GpuMemoryKb, uint Gpus)
{
    /// <summary>
    /// What a job that declares no memory reserves: nothing, but cueadmin and cueman print a proc's memory as used over
    /// reserved and fail on a division by zero, so 1 KB stands for it (shown as <c>1K</c>, and taken off the host too).
    /// </summary>
    public const long UndeclaredMemoryKb = 1;

    /// <summary>The reservation of a lease of <paramref name="run"/> (a run no longer in the view: nothing).</summary>
    public static Reservation Of(RunView? run)
    {
        var r = run?.Spec.Resources;
        return new Reservation(
            r?.Cores ?? 0,
            r is { MemoryMiB: > 0 } ? r.MemoryMiB * 1024 : UndeclaredMemoryKb,
            (r?.GpuMemoryMiB ?? 0) * 1024,
            (uint)(r?.Gpus ?? 0));
    }
}
