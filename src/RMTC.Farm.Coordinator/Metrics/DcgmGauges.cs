using System.Diagnostics.Metrics;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Metrics;

/// <summary>
/// Per-GPU gauges named and labelled as NVIDIA's DCGM exporter does, so existing DCGM dashboards (Grafana 12239)
/// work unchanged on the samples agents send in heartbeats. A reading the GPU did not give is left out, not 0.
/// </summary>
internal static class DcgmGauges
{
    public static void Register(Meter meter, Func<IReadOnlyList<(string Hostname, GpuSample Sample)>> samples)
    {
        Gauge(meter, "DCGM_FI_DEV_GPU_UTIL", "GPU utilisation (%)", samples, g => g.HasUtilizationPercent ? g.UtilizationPercent : null);
        Gauge(meter, "DCGM_FI_DEV_FB_USED", "Framebuffer memory used (MiB)", samples, g => g.HasMemoryUsedMib ? g.MemoryUsedMib : null);
        Gauge(meter, "DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (MiB)", samples,
            g => g.HasMemoryUsedMib && g.HasMemoryTotalMib ? Math.Max(0, (double)g.MemoryTotalMib - g.MemoryUsedMib) : null);
        Gauge(meter, "DCGM_FI_DEV_POWER_USAGE", "Power draw (W)", samples, g => g.HasPowerWatts ? g.PowerWatts : null);
        Gauge(meter, "DCGM_FI_DEV_GPU_TEMP", "GPU temperature (C)", samples, g => g.HasTemperatureCelsius ? g.TemperatureCelsius : null);
    }

    private static void Gauge(Meter meter, string name, string description, Func<IReadOnlyList<(string Hostname, GpuSample Sample)>> samples, Func<GpuSample, double?> value) =>
        meter.CreateObservableGauge(name, () => Observe(samples(), value), description: description);

    private static IEnumerable<Measurement<double>> Observe(IReadOnlyList<(string Hostname, GpuSample Sample)> samples, Func<GpuSample, double?> value)
    {
        foreach (var (host, gpu) in samples)
        {
            if (value(gpu) is { } v)
            {
                yield return new Measurement<double>(v,
                    new KeyValuePair<string, object?>("gpu", gpu.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    new KeyValuePair<string, object?>("UUID", gpu.Uuid),
                    new KeyValuePair<string, object?>("device", $"nvidia{gpu.Index}"),
                    new KeyValuePair<string, object?>("modelName", gpu.Name),
                    new KeyValuePair<string, object?>("Hostname", host));
            }
        }
    }
}
