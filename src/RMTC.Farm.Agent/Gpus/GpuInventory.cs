using System.Globalization;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Gpus;

/// <summary>The node's GPUs, as the agent registers them. No driver or no GPU means an empty list, never an error.</summary>
public static class GpuInventory
{
    /// <summary>The nvidia-smi query the agent runs; its CSV output is what <see cref="Parse"/> reads.</summary>
    public const string Query = "--query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits";

    /// <summary>Asks nvidia-smi (when installed) for the node's GPUs.</summary>
    public static IReadOnlyList<GpuDevice> Detect(TimeSpan timeout) =>
        NvidiaSmi.Run(Query, timeout) is { } csv ? Parse(csv) : [];

    /// <summary>Parses nvidia-smi's CSV; rows it cannot read are skipped. "[N/A]" memory reads as unknown (0).</summary>
    public static IReadOnlyList<GpuDevice> Parse(string csv)
    {
        var gpus = new List<GpuDevice>();
        foreach (var line in csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = line.Split(',', StringSplitOptions.TrimEntries);
            if (fields.Length < 4 || !uint.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var index))
            {
                continue;
            }

            gpus.Add(new GpuDevice
            {
                Index = index,
                Uuid = fields[1],
                // Names may hold commas in theory; the memory column is always last.
                Name = string.Join(", ", fields[2..^1]),
                MemoryTotalMib = ulong.TryParse(fields[^1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var mib) ? mib : 0,
            });
        }

        return gpus;
    }
}
