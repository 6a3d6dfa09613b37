namespace RMTC.Farm.Agent.Hosting;

/// <summary>
/// How the agent runs its trainers, bound from <c>Agent:Trainer</c>: a fresh <c>rmtc shard run</c> process per shard
/// (<see cref="TrainerModes.Cold"/>) or a long-lived <c>rmtc trainer serve</c> per slot (<see cref="TrainerModes.Warm"/>)
/// that keeps libtorch, the device and decoded samples between shards. Validated on start.
/// </summary>
public sealed class TrainerOptions
{
    /// <summary>The section, under the agent's own.</summary>
    public const string Section = "Agent:Trainer";

    /// <summary>Default of <see cref="CacheBytes"/>: 256 MiB of decoded samples per trainer.</summary>
    public const long DefaultCacheBytes = 256L * 1024 * 1024;

    /// <summary><see cref="TrainerModes.Warm"/> or <see cref="TrainerModes.Cold"/>.</summary>
    public string Mode { get; set; } = TrainerModes.Warm;

    /// <summary>
    /// Most bytes of decoded samples a warm trainer keeps between shards (each slot's trainer its own); 0 keeps none.
    /// The trainer's memory beyond one shard's own work grows no further than this.
    /// </summary>
    public long CacheBytes { get; set; } = DefaultCacheBytes;

    /// <summary>A warm trainer is replaced by a fresh one after this many tasks (0: never), bounding what a long life may leak.</summary>
    public int RecycleAfterShards { get; set; } = 1000;

    /// <summary>
    /// Replace a warm trainer when rmtc changed under it: its program files were rewritten since it started (an upgrade
    /// in place), or a newer trainer of this agent announced another rmtc version in its hello.
    /// </summary>
    public bool RecycleOnNewVersion { get; set; } = true;

    /// <summary>How long a new warm trainer may take to say hello before it is killed and the shard failed.</summary>
    public int StartTimeoutMs { get; set; } = 120_000;

    /// <summary>Arguments of the warm trainer after <c>Agent:TrainerExecutable</c> (the rmtc CLI sets them to its own <c>trainer serve</c>).</summary>
    public List<string> ServeArguments { get; set; } = new();

    /// <summary>Whether trainers are warm.</summary>
    public bool IsWarm => string.Equals(Mode, TrainerModes.Warm, StringComparison.OrdinalIgnoreCase);

    /// <summary>What is wrong with these settings on a node offering <paramref name="memoryBytes"/> to <paramref name="slots"/> slots; empty when nothing.</summary>
    public IEnumerable<string> Problems(long memoryBytes, int slots)
    {
        if (!string.Equals(Mode, TrainerModes.Warm, StringComparison.OrdinalIgnoreCase) && !string.Equals(Mode, TrainerModes.Cold, StringComparison.OrdinalIgnoreCase))
        {
            yield return $"Agent:Trainer:Mode is '{Mode}': use {TrainerModes.Warm} (a long-lived trainer per slot) or {TrainerModes.Cold} (a fresh process per shard)";
        }

        if (CacheBytes < 0)
        {
            yield return $"Agent:Trainer:CacheBytes is {CacheBytes}: give the bytes of decoded samples each warm trainer may keep (0 keeps none)";
        }
        else if (memoryBytes > 0 && CacheBytes > memoryBytes / Math.Max(1, slots))
        {
            yield return $"Agent:Trainer:CacheBytes is {CacheBytes} bytes, more than this node's memory per slot ({memoryBytes / Math.Max(1, slots)} bytes: "
                + $"{memoryBytes} offered to {Math.Max(1, slots)} slot(s)); each slot's trainer keeps its own cache: lower it";
        }

        if (RecycleAfterShards < 0)
        {
            yield return $"Agent:Trainer:RecycleAfterShards is {RecycleAfterShards}: give how many shards a warm trainer runs before a fresh one replaces it (0: never)";
        }

        if (StartTimeoutMs is < 1000 or > 3_600_000)
        {
            yield return $"Agent:Trainer:StartTimeoutMs is {StartTimeoutMs}: give 1000 to 3600000 ms for a warm trainer to start";
        }
    }
}

/// <summary>Values of <see cref="TrainerOptions.Mode"/>.</summary>
public static class TrainerModes
{
    /// <summary>A long-lived <c>rmtc trainer serve</c> per slot, fed a task per shard.</summary>
    public const string Warm = "warm";

    /// <summary>A fresh <c>rmtc shard run</c> process per shard.</summary>
    public const string Cold = "cold";
}
