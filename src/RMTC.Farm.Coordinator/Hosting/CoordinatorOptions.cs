using System.ComponentModel.DataAnnotations;

namespace RMTC.Farm.Coordinator.Hosting;

/// <summary>Settings of the coordinator, bound from the <c>Coordinator</c> section (file, <c>RMTC_Coordinator__*</c> environment, flags).</summary>
public sealed class CoordinatorOptions
{
    public const string Section = "Coordinator";

    /// <summary>Where run manifests and artifacts live (the embedded store). Agents must be able to read datasets by the same paths.</summary>
    [Required]
    public string DataDirectory { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "rmtc");

    /// <summary>
    /// Redis for manifests, event logs and indexes (StackExchange.Redis configuration, e.g. <c>redis.farm:6379</c>).
    /// Unset: the embedded file store under <see cref="DataDirectory"/>.
    /// </summary>
    public string? Redis { get; set; }

    /// <summary>
    /// Redis behind Sentinel instead of <see cref="Redis"/>: the sentinels' addresses, <c>host:port</c> separated by
    /// commas (port 26379 when left out). The store asks them for the primary of <see cref="RedisServiceName"/> and
    /// follows a failover to the promoted replica. StackExchange.Redis options may go among them (<c>password=…</c>),
    /// applying to the sentinels and the primary alike.
    /// </summary>
    public string? RedisSentinels { get; set; }

    /// <summary>The name the sentinels monitor the primary by (<c>sentinel monitor NAME …</c>); required with <see cref="RedisSentinels"/>.</summary>
    public string? RedisServiceName { get; set; }

    /// <summary>
    /// The password of the Redis data nodes (their <c>requirepass</c>): sent to a standalone <see cref="Redis"/>, or to
    /// the primary the sentinels name (the sentinels are sent it too, which those without a password of their own
    /// accept). Kept out of <see cref="Redis"/> and <see cref="RedisSentinels"/> so it appears in no log; set it in the
    /// config file or as <c>RMTC_Coordinator__RedisPassword</c> (an EnvironmentFile readable by the service alone).
    /// </summary>
    public string? RedisPassword { get; set; }

    /// <summary>
    /// How many replicas each store write must reach (Redis <c>WAIT</c>) before it counts as stored, so that nothing
    /// acknowledged is lost when a replica is promoted. Unset: 1 with <see cref="RedisSentinels"/>, 0 (no <c>WAIT</c>)
    /// with a standalone <see cref="Redis"/>.
    /// </summary>
    [Range(0, 16)]
    public int? RedisMinReplicas { get; set; }

    /// <summary>How long one <c>WAIT</c> blocks for the replicas; a write that reached too few in this time is written again.</summary>
    [Range(10, 4000)]
    public int RedisReplicaTimeoutMs { get; set; } = 1000;

    /// <summary>Whether the store is Redis (standalone or behind Sentinel) rather than the embedded file store.</summary>
    public bool UsesRedis => !string.IsNullOrWhiteSpace(Redis) || !string.IsNullOrWhiteSpace(RedisSentinels);

    /// <summary>
    /// <see cref="UsesRedis"/> read from the unbound <c>Coordinator</c> section, for registrations made before options
    /// are bound and validated.
    /// </summary>
    public static bool ConfiguresRedis(Microsoft.Extensions.Configuration.IConfiguration section) =>
        !string.IsNullOrWhiteSpace(section[nameof(Redis)]) || !string.IsNullOrWhiteSpace(section[nameof(RedisSentinels)]);

    /// <summary><see cref="RedisMinReplicas"/> with its default applied.</summary>
    public int EffectiveRedisMinReplicas => RedisMinReplicas ?? (string.IsNullOrWhiteSpace(RedisSentinels) ? 0 : 1);

    /// <summary>Address Kestrel binds for gRPC (HTTP/2 cleartext).</summary>
    [Required]
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>gRPC port; 0 picks a free one.</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 7460;

    /// <summary>
    /// Port of the Prometheus endpoint (<c>/metrics</c>, HTTP/1.1, separate from gRPC's HTTP/2); 0 picks a free one,
    /// -1 turns it off.
    /// </summary>
    [Range(-1, 65535)]
    public int MetricsPort { get; set; } = 9464;

    /// <summary>How often agents send heartbeats.</summary>
    [Range(50, 600_000)]
    public int HeartbeatIntervalMs { get; set; } = 1000;

    /// <summary>An agent silent this long loses its leases; their shards are queued again.</summary>
    [Range(200, 3_600_000)]
    public int LeaseTimeoutMs { get; set; } = 10_000;

    /// <summary>Bytes per weights chunk on the wire (at most 1 MiB; 64 KiB keeps buffers off the large-object heap).</summary>
    [Range(4096, 1024 * 1024)]
    public int ChunkBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Largest run manifest stored (JSON bytes, one Redis value or run.json): a spec whose run could outgrow it, counted
    /// from its spec, dataset and every round's shards and allowed attempts, is refused at submission.
    /// </summary>
    [Range(1024 * 1024, 512 * 1024 * 1024)]
    public int MaxManifestBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>
    /// Port of the OpenCue-compatible endpoint (pycue, pyoutline, cuesubmit: plaintext gRPC, HTTP/2), 8443 as Cuebot's;
    /// 0 picks a free one, -1 turns it off. Only OpenCue's services answer there, and only there. On a coordinator that
    /// requires tokens it stays off unless <see cref="Security.SecurityOptions.OpenCueSubmitHosts"/> lists submit hosts.
    /// </summary>
    [Range(-1, 65535)]
    public int OpenCuePort { get; set; } = 8443;

    /// <summary>
    /// How long a run's journal gathers changes before it writes them (events, index, one manifest) as one batch.
    /// A busy run then costs a manifest write per window instead of one per store round trip; results and submissions
    /// are acknowledged once their batch is stored, so this is also what an acknowledgement waits at most beyond the write.
    /// 0 writes as soon as the previous write ends.
    /// </summary>
    [Range(0, 1000)]
    public int JournalCommitWindowMs { get; set; } = 10;

    /// <summary>Address the OpenCue endpoint binds; unset: <see cref="ListenAddress"/>.</summary>
    public string? OpenCueListenAddress { get; set; }
}
