using System.ComponentModel.DataAnnotations;

namespace RMTC.Farm.Agent.Yielding;

/// <summary>
/// Render-first preemption, bound from <c>Agent:Yield</c>: what tells the agent that rendering needs its node. The node
/// yields while any source says so: the flag file exists, the probe command exits 0, or SIGUSR1 forced it (until SIGUSR2).
/// </summary>
public sealed class YieldOptions
{
    public const string Section = "Agent:Yield";

    /// <summary>
    /// A file whose existence means "rendering needs this node", e.g. <c>/var/run/rmtc/yield</c> written by a render
    /// manager's pre-frame script and removed by its post-frame script. Unset = no flag file.
    /// </summary>
    public string? FlagFile { get; set; }

    /// <summary>
    /// A shell command (<c>/bin/sh -c</c>) that exits 0 while a render runs here, e.g. <c>pgrep -f 'rqd.*render'</c>;
    /// any other exit code means the node is free. Unset = no probe.
    /// </summary>
    public string? ProbeCommand { get; set; }

    /// <summary>How often the flag file and the probe are checked, in milliseconds.</summary>
    [Range(50, 3_600_000)]
    public int PollIntervalMs { get; set; } = 1000;

    /// <summary>A probe still running after this long is killed and its answer ignored (the last one stands).</summary>
    [Range(100, 3_600_000)]
    public int ProbeTimeoutMs { get; set; } = 10_000;

    /// <summary>SIGUSR1 to the agent forces a yield, SIGUSR2 ends it. False = the agent ignores both.</summary>
    public bool Signals { get; set; } = true;
}
