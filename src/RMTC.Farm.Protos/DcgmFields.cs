namespace RMTC.Farm.Protos.V1;

/// <summary>
/// The DCGM exporter's GPU fields as read from a <see cref="GpuSample"/>: one table for the coordinator's gauges and
/// an agent's own /metrics, so both export the same names from the same readings. A missing reading is null, not 0.
/// </summary>
public static class DcgmFields
{
    /// <summary>Name, help text and how to read the value (null when the GPU did not report it).</summary>
    public static readonly IReadOnlyList<(string Name, string Help, Func<GpuSample, double?> Value)> All =
    [
        ("DCGM_FI_DEV_GPU_UTIL", "GPU utilisation (%)", g => g.HasUtilizationPercent ? g.UtilizationPercent : null),
        ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (MiB)", g => g.HasMemoryUsedMib ? g.MemoryUsedMib : null),
        ("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (MiB)", g => g.HasMemoryUsedMib && g.HasMemoryTotalMib ? Math.Max(0, (double)g.MemoryTotalMib - g.MemoryUsedMib) : null),
        ("DCGM_FI_DEV_POWER_USAGE", "Power draw (W)", g => g.HasPowerWatts ? g.PowerWatts : null),
        ("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (C)", g => g.HasTemperatureCelsius ? g.TemperatureCelsius : null),
    ];

    /// <summary>The DCGM labels of one GPU on one host, in the exporter's spelling.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Labels(GpuSample gpu, string hostname) =>
    [
        new("gpu", gpu.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("UUID", gpu.Uuid),
        new("device", $"nvidia{gpu.Index}"),
        new("modelName", gpu.Name),
        new("Hostname", hostname),
    ];
}
