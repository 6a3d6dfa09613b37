using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Gpus;

/// <summary>
/// A simulation of GPUs for machines that have none (tests, demos): enabled only by <c>Agent:SimulatedGpus</c>.
/// Readings are deterministic and follow <paramref name="busy"/>: high while the agent runs a shard, low when idle.
/// Every sample is marked <see cref="GpuSample.Simulated"/> so nothing mistakes it for hardware.
/// </summary>
public sealed class SimulatedGpuSampler(int count, string agentId, Func<bool> busy) : IGpuSampler
{
    /// <summary>The name every simulated GPU reports.</summary>
    public const string DeviceName = "Simulated GPU (rmtc)";

    /// <summary>Memory of each simulated GPU, MiB (what the agent registers as GPU memory when simulating).</summary>
    public const ulong MemoryTotalMib = 24_576;

    private long _tick;

    /// <summary>GPUs simulated.</summary>
    public int Count { get; } = count > 0 ? count : throw new ArgumentOutOfRangeException(nameof(count), count, "at least one GPU");

    /// <summary>The UUID simulated GPU <paramref name="index"/> of <paramref name="agentId"/> reports; stable across restarts.</summary>
    public static string Uuid(string agentId, int index) => $"GPU-sim-{agentId}-{index}";

    /// <inheritdoc />
    public bool TryInitialize() => true;

    /// <inheritdoc />
    public IReadOnlyList<GpuSample> Sample()
    {
        var tick = Interlocked.Increment(ref _tick);
        var load = busy();
        var samples = new GpuSample[Count];
        for (var i = 0; i < Count; i++)
        {
            // A small deterministic wobble (0..4) per tick and GPU, so consecutive samples differ like real ones.
            var wobble = (int)((tick + i) % 5);
            samples[i] = new GpuSample
            {
                Index = (uint)i,
                Uuid = Uuid(agentId, i),
                Name = DeviceName,
                UtilizationPercent = (uint)(load ? 93 + wobble : wobble / 2),
                MemoryUsedMib = load ? 18_432UL + (ulong)(wobble * 64) : 512UL,
                MemoryTotalMib = MemoryTotalMib,
                PowerWatts = load ? 280.0 + wobble * 3 : 24.0 + wobble * 0.5,
                TemperatureCelsius = load ? 71.0 + wobble : 36.0 + wobble / 2,
                Simulated = true,
            };
        }

        return samples;
    }
}
