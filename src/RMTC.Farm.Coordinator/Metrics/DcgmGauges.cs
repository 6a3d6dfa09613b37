using System.Diagnostics.Metrics;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Services.Wire;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Metrics;

/// <summary>
/// Per-GPU gauges named and labelled as NVIDIA's DCGM exporter does, so existing DCGM dashboards (Grafana 12239)
/// work unchanged on the samples agents send in heartbeats. A reading the GPU did not give is left out, not 0.
/// </summary>
internal static class DcgmGauges
{
    public static void Register(Meter meter, Func<IReadOnlyList<(string Hostname, GpuReading Sample)>> samples)
    {
        foreach (var (name, help, value) in DcgmFields.All)
        {
            meter.CreateObservableGauge(name, () => Observe(samples(), value), description: help);
        }
    }

    private static IEnumerable<Measurement<double>> Observe(IReadOnlyList<(string Hostname, GpuReading Sample)> samples, Func<GpuSample, double?> value)
    {
        foreach (var (host, reading) in samples)
        {
            // The agents' /metrics read the same table from the same wire form: one spelling of every DCGM field.
            var gpu = reading.ToWire();
            if (value(gpu) is { } v)
            {
                yield return new Measurement<double>(v, DcgmFields.Labels(gpu, host).Select(l => new KeyValuePair<string, object?>(l.Key, l.Value)).ToArray());
            }
        }
    }
}
