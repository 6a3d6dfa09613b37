using RMTC.Farm.Core.Digests;
using StackExchange.Redis;

namespace RMTC.Farm.Coordinator.Storage.Redis;

/// <summary>
/// The Redis key layout of <see cref="RedisRunStore"/>. Every key of one run carries the hash tag <c>{run:&lt;id&gt;}</c>
/// so a run lives in one Redis Cluster slot; index keys carry none, so they spread over the cluster.
/// </summary>
internal static class RedisKeys
{
    /// <summary>Set of every run id with a saved manifest.</summary>
    public static readonly RedisKey Runs = "rmtc:runs";

    /// <summary>Set of every index key name, so the indexes can be dropped without KEYS or SCAN.</summary>
    public static readonly RedisKey IndexKeys = "rmtc:idx:keys";

    /// <summary>
    /// The newest leadership fencing token any coordinator took (<c>INCR</c> on each acquisition of
    /// <see cref="LeaderLease"/>); fenced writes compare their token with it.
    /// </summary>
    public static readonly RedisKey Fence = "rmtc:leader:fence";

    /// <summary>The leader lease: <c>&lt;token&gt;|&lt;advertised address&gt;</c>, with an expiry (<c>PX</c>), renewed by its holder.</summary>
    public static readonly RedisKey LeaderLease = "rmtc:leader";

    /// <summary>Hash with fields <c>version</c> and <c>json</c>.</summary>
    public static RedisKey Manifest(string runId) => $"rmtc:{{run:{RunId(runId)}}}:manifest";

    /// <summary>List of <see cref="Core.Lineage.LineageEvent.ToJson"/>, oldest first.</summary>
    public static RedisKey Events(string runId) => $"rmtc:{{run:{RunId(runId)}}}:events";

    /// <summary>List of <see cref="Core.Lineage.DerivationRecord.ToJson"/> (exports, inferences), oldest first.</summary>
    public static RedisKey Derivations(string runId) => $"rmtc:{{run:{RunId(runId)}}}:derivations";

    /// <summary>The highest lease epoch reserved for the run (a decimal integer); see <see cref="IRunStore.ReserveLeaseEpochsAsync"/>.</summary>
    public static RedisKey Epochs(string runId) => $"rmtc:{{run:{RunId(runId)}}}:epochs";

    /// <summary>Set of the run ids indexed under <paramref name="kind"/> and <paramref name="digest"/>.</summary>
    public static string Index(string kind, string digest) =>
        FileRunStore.IsIndexKind(kind) && Sha256Digest.IsValid(digest)
            ? $"rmtc:idx:{kind}:{digest}"
            : throw new ArgumentException($"index key '{kind}:{digest}' must be a kind of lowercase letters and '-' and a sha256 digest (64 lowercase hex)");

    /// <summary>
    /// Validates a run id with the file store's rule, so switching stores never changes which ids are accepted, and so
    /// no id can carry a brace that would break the hash tag.
    /// </summary>
    public static string RunId(string runId) =>
        FileRunStore.IsRunId(runId)
            ? runId
            : throw new ArgumentException($"'{runId}' is not a run id (letters, digits, '.', '-', '_'; at most 200)", nameof(runId));
}
