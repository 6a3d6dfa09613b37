namespace RMTC.Farm.Benchmarks;

/// <summary>The faults the soak injects, one per run, drawn so that every kind occurs.</summary>
internal static class SoakFaults
{
    public const string AgentKill = "agent SIGKILL mid-shard";
    public const string AgentCutOff = "agent cut off (SIGSTOP past the lease timeout)";
    public const string CoordinatorKill = "coordinator SIGKILL mid-round";
    public const string RedisRestart = "redis-server SIGKILL and restart mid-run";
    public const string RedisThenCoordinatorKill = "redis-server, then coordinator SIGKILL (6 s)";
    public const string CorruptUpload = "corrupt upload (digest mismatch)";
    public const string NaNWeights = "NaN weights";
    public const string WrongShape = "wrong tensor shape";
    public const string DuplicateUpload = "duplicate upload";
    public const string StaleUpload = "stale result after the lease expired";
    public const string Straggler = "straggler (speculative lease)";
    public const string Preemption = "render preempts an agent (SIGUSR1, SIGUSR2)";
    public const string LeaderKill = "leader coordinator SIGKILL, standby takes over";
    public const string LeaderPause = "leader SIGSTOP past its lease, then SIGCONT";
    public const string RedisPrimaryKill = "Redis primary SIGKILL, Sentinel fails over";

    /// <summary>One coordinator on one redis-server: the coordinator and Redis restarted in place.</summary>
    public static readonly string[] All =
    [
        AgentKill, AgentCutOff, CoordinatorKill, RedisRestart, RedisThenCoordinatorKill, CorruptUpload, NaNWeights, WrongShape, DuplicateUpload, StaleUpload,
        Straggler, Preemption,
    ];

    /// <summary>
    /// Two coordinators (a leader and a standby) on Redis behind Sentinel: the same agent and upload faults, with the
    /// leader and the Redis primary lost in place of the one coordinator and the one redis-server.
    /// </summary>
    public static readonly string[] Failover =
    [
        AgentKill, AgentCutOff, LeaderKill, RedisPrimaryKill, LeaderPause, CorruptUpload, NaNWeights, WrongShape, DuplicateUpload, StaleUpload,
        Straggler, Preemption,
    ];

    /// <summary>Faults a rogue agent in the soak process commits over the wire.</summary>
    public static bool IsRogue(string fault) => fault is CorruptUpload or NaNWeights or WrongShape or DuplicateUpload or StaleUpload;
}
