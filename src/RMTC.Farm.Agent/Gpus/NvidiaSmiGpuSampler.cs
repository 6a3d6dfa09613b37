using System.Globalization;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Gpus;

/// <summary>Samples GPUs by running nvidia-smi, for nodes where NVML cannot be loaded but the tool exists.</summary>
public sealed class NvidiaSmiGpuSampler(TimeSpan timeout) : IGpuSampler
{
    /// <summary>The nvidia-smi query the sampler runs; its CSV output is what <see cref="Parse"/> reads.</summary>
    public const string Query = "--query-gpu=index,uuid,name,utilization.gpu,memory.used,memory.total,power.draw,temperature.gpu --format=csv,noheader,nounits";

    // index, uuid, name, then five readings; the name sits between them so a comma in it cannot shift the readings.
    private const int Readings = 5;

    /// <summary>A sampler whose nvidia-smi runs may take up to 10 s.</summary>
    public NvidiaSmiGpuSampler()
        : this(TimeSpan.FromSeconds(10))
    {
    }

    /// <inheritdoc />
    public bool TryInitialize() => Run() is { Count: > 0 };

    /// <inheritdoc />
    public IReadOnlyList<GpuSample> Sample() =>
        Run() ?? throw new InvalidOperationException("nvidia-smi failed or did not answer in time");

    /// <summary>
    /// Parses nvidia-smi's CSV. Rows without a numeric index are skipped (driver messages, garbage);
    /// "[N/A]", "[Not Supported]", "N/A" and empty readings are missing, not 0.
    /// </summary>
    public static IReadOnlyList<GpuSample> Parse(string csv)
    {
        var samples = new List<GpuSample>();
        foreach (var line in csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = line.Split(',', StringSplitOptions.TrimEntries);
            if (fields.Length < 3 + Readings || !uint.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var index))
            {
                continue;
            }

            var r = fields[^Readings..];
            var sample = new GpuSample { Index = index, Uuid = fields[1], Name = string.Join(", ", fields[2..^Readings]) };
            if (ReadDouble(r[0]) is { } utilization)
            {
                sample.UtilizationPercent = (uint)Math.Round(Math.Clamp(utilization, 0, 100));
            }

            if (ReadDouble(r[1]) is { } used)
            {
                sample.MemoryUsedMib = (ulong)Math.Max(0, used);
            }

            if (ReadDouble(r[2]) is { } total)
            {
                sample.MemoryTotalMib = (ulong)Math.Max(0, total);
            }

            if (ReadDouble(r[3]) is { } watts)
            {
                sample.PowerWatts = watts;
            }

            if (ReadDouble(r[4]) is { } celsius)
            {
                sample.TemperatureCelsius = celsius;
            }

            samples.Add(sample);
        }

        return samples;
    }

    // Anything that is not a finite number ([N/A], [Not Supported], N/A, empty) is a missing reading.
    private static double? ReadDouble(string field) =>
        double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) ? value : null;

    private IReadOnlyList<GpuSample>? Run() =>
        NvidiaSmi.Run(Query, timeout) is { } csv ? Parse(csv) : null;
}
