namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>One GPU as an agent's latest heartbeat reported it; a figure the driver did not give is null.</summary>
/// <param name="Index">The GPU's index on its node.</param>
/// <param name="Uuid">The GPU's UUID.</param>
/// <param name="Name">The name.</param>
/// <param name="UtilizationPercent">Utilisation in percent.</param>
/// <param name="MemoryUsedMib">Memory in use (MiB).</param>
/// <param name="MemoryTotalMib">Memory in all (MiB).</param>
/// <param name="PowerWatts">Power draw (W).</param>
/// <param name="TemperatureCelsius">Temperature (°C).</param>
/// <param name="Simulated">True when the agent simulates this GPU (a machine without one): dashboards must say so.</param>
public sealed record GpuReading(
    uint Index,
    string Uuid,
    string Name,
    uint? UtilizationPercent,
    ulong? MemoryUsedMib,
    ulong? MemoryTotalMib,
    double? PowerWatts,
    double? TemperatureCelsius,
    bool Simulated);
