namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>What an agent's node offers training: GPUs, GPU memory, memory, cores and tags (its registration says so).</summary>
/// <param name="Gpus">GPUs the agent may use; 0 on a CPU node.</param>
/// <param name="GpuMemoryMib">Memory of its smallest GPU in MiB; 0 when unknown or on a CPU node.</param>
/// <param name="MemoryMib">Host memory in MiB; 0 when unknown.</param>
/// <param name="Cores">CPU cores; 0 when unknown.</param>
/// <param name="Tags">Free-form tags a job's <c>requires.tags</c> is matched against.</param>
public sealed record AgentResources(uint Gpus, ulong GpuMemoryMib, ulong MemoryMib, double Cores, IReadOnlyList<string> Tags)
{
    /// <summary>A node that declared nothing: takes only jobs that require nothing.</summary>
    public static AgentResources None { get; } = new(0, 0, 0, 0, []);
}
