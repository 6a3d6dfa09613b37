using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>What the Explorer's farm view reads: GPUs per agent (several agents may share a host name).</summary>
public sealed partial class FarmScheduler
{
    /// <summary>The latest GPU samples of every connected agent, by agent id.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<GpuSample>> GpusByAgent()
    {
        lock (_gate)
        {
            return _agents.Values.Where(a => a.Connected).ToDictionary(a => a.Id, a => a.Gpus, StringComparer.Ordinal);
        }
    }
}
