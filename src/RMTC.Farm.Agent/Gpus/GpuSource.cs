namespace RMTC.Farm.Agent.Gpus;

/// <summary>Where <see cref="GpuSampling"/> reads GPU samples from.</summary>
public enum GpuSource
{
    /// <summary>No GPUs or no driver: heartbeats carry no samples.</summary>
    None,

    /// <summary>The configured simulation (<c>Agent:SimulatedGpus</c>), for machines without GPUs.</summary>
    Simulated,

    /// <summary>The NVIDIA Management Library, libnvidia-ml.so.1.</summary>
    Nvml,

    /// <summary>The nvidia-smi command, when NVML cannot be loaded.</summary>
    NvidiaSmi,
}
