using System.ComponentModel.DataAnnotations;

namespace RMTC.Farm.Agent.Hosting;

/// <summary>Settings of an agent daemon, bound from the <c>Agent</c> section (file, <c>RMTC_Agent__*</c> environment, flags).</summary>
public sealed class AgentOptions
{
    public const string Section = "Agent";

    /// <summary>
    /// The coordinator's gRPC address, e.g. <c>http://cuebot-ml.farm:7460</c>; with a standby, every coordinator's
    /// address separated by commas (or a list in the configuration file): the agent follows whichever leads.
    /// </summary>
    [Required]
    public string Coordinator { get; set; } = "http://127.0.0.1:7460";

    /// <summary>
    /// File holding the farm token the coordinator asks agents for (<c>Coordinator:AgentTokenFile</c>); unset: the
    /// <c>RMTC_FARM_TOKEN</c> environment variable, else no token.
    /// </summary>
    public string? TokenFile { get; set; }

    /// <summary>
    /// PEM (or DER) file of the farm CA that signed the coordinator's TLS certificate, for an <c>https://</c> address;
    /// unset: <c>RMTC_CA_FILE</c>, else the system's trusted roots.
    /// </summary>
    public string? CaFile { get; set; }

    /// <summary>
    /// PEM client certificate for mutual TLS (the coordinator's <c>Coordinator:Tls:AgentCaPath</c> signed it), with its key
    /// in <see cref="ClientKeyPath"/> or the same file: authenticates the agent instead of the farm token. Unset = none.
    /// </summary>
    public string? ClientCertificatePath { get; set; }

    /// <summary>PEM private key of <see cref="ClientCertificatePath"/>, when it is not in the same file.</summary>
    public string? ClientKeyPath { get; set; }

    /// <summary>Stable id of this agent; defaults to the host name (one agent per host, like RQD).</summary>
    public string? Id { get; set; }

    /// <summary>Shard attempts run at once (defaults to the GPU count, or 1 on a CPU node).</summary>
    [Range(0, 256)]
    public int Slots { get; set; }

    /// <summary>GPUs offered to training; unset = every GPU nvidia-smi reports (none on a CPU node); 0 = CPU only.</summary>
    [Range(0, 64)]
    public int? Gpus { get; set; }

    /// <summary>Memory of each GPU, MiB; unset = the smallest GPU's memory as reported.</summary>
    [Range(0, long.MaxValue)]
    public long? GpuMemoryMiB { get; set; }

    /// <summary>Host memory offered, MiB (0 = what the machine has).</summary>
    [Range(0, long.MaxValue)]
    public long MemoryMiB { get; set; }

    /// <summary>CPU cores offered (0 = all).</summary>
    [Range(0, 4096)]
    public double Cores { get; set; }

    /// <summary>Tags of this node, e.g. <c>["gpu", "lighting"]</c>; jobs can require them.</summary>
    public List<string> Tags { get; set; } = new();

    /// <summary>Scratch space: cached weights by digest, one folder per shard attempt.</summary>
    [Required]
    public string WorkDirectory { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "rmtc-agent");

    /// <summary>Program that runs one shard (the CLI sets itself: <c>rmtc shard run</c>).</summary>
    public string? TrainerExecutable { get; set; }

    /// <summary>Arguments before <c>--task FILE</c>, e.g. the rmtc dll and <c>shard run</c>.</summary>
    public List<string> TrainerArguments { get; set; } = new();

    /// <summary>How trainers run: cold (a process per shard) or warm (a long-lived trainer per slot), with its cache and recycling.</summary>
    public TrainerOptions Trainer { get; set; } = new();

    /// <summary>Torch threads per shard (0 = cores / slots).</summary>
    [Range(0, 1024)]
    public int ThreadsPerShard { get; set; }

    /// <summary>After SIGTERM, how long a shard process may take to stop before SIGKILL.</summary>
    [Range(0, 3_600_000)]
    public int CancelGraceMs { get; set; } = 10_000;

    /// <summary>Longest wait between reconnection attempts (backoff doubles up to this).</summary>
    [Range(100, 600_000)]
    public int ReconnectMaxDelayMs { get; set; } = 10_000;

    /// <summary>How often the agent samples its GPUs (utilization, memory, power, temperature) for heartbeats.</summary>
    [Range(100, 600_000)]
    public int GpuSampleIntervalMs { get; set; } = 5000;

    /// <summary>
    /// A simulation for machines without GPUs (tests, demos): &gt; 0 makes the agent report that many simulated GPUs,
    /// samples marked as simulated, and (when <see cref="Gpus"/> is unset) offer them as capacity. 0 = off.
    /// </summary>
    [Range(0, 64)]
    public int SimulatedGpus { get; set; }

    /// <summary>Port of the agent's own Prometheus <c>/metrics</c> (its GPU samples, DCGM names); unset = off.</summary>
    [Range(0, 65535)]
    public int? MetricsPort { get; set; }

    /// <summary>Address the agent's <c>/metrics</c> binds (e.g. <c>+</c> for every interface).</summary>
    public string MetricsAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// A simulation for measuring the farm itself (benchmarks, scheduling tests): &gt; 0 replaces training with a wait of
    /// this many milliseconds, after which the agent returns the round's global weights unchanged, reported with device
    /// <c>simulated</c>. Everything else (leases, fetches, uploads, fencing, heartbeats) is the real agent. 0 = off.
    /// </summary>
    [Range(0, 86_400_000)]
    public int SimulateTrainingMs { get; set; }

    /// <summary>Bytes per uploaded chunk (at most 1 MiB).</summary>
    [Range(4096, 1024 * 1024)]
    public int ChunkBytes { get; set; } = DefaultChunkBytes;

    /// <summary>Default of <see cref="ChunkBytes"/>.</summary>
    public const int DefaultChunkBytes = 64 * 1024;

    /// <summary>
    /// Move weights over the coordinator's HTTP data plane when it offers one (ranged, resumable fetches and uploads);
    /// false keeps every transfer on gRPC. A coordinator without a data plane gets gRPC either way.
    /// </summary>
    public bool UseDataPlane { get; set; } = true;

    /// <summary>This agent's weights cache served to peer agents, and how long a peer the coordinator names is waited on.</summary>
    public PeerDataPlaneOptions PeerDataPlane { get; set; } = new();
}
