using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Gpus;

/// <summary>One way of reading the node's GPUs (NVML, nvidia-smi, or the simulation).</summary>
public interface IGpuSampler
{
    /// <summary>
    /// Whether this source can report on this machine; called once, before any <see cref="Sample"/>.
    /// A missing driver or library answers false, never throws.
    /// </summary>
    bool TryInitialize();

    /// <summary>The state of every GPU now. May throw when the driver fails mid-run; the caller logs it.</summary>
    IReadOnlyList<GpuSample> Sample();
}
