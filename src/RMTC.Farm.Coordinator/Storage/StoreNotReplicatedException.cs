using StackExchange.Redis;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// A write reached the Redis primary but fewer replicas than <c>Coordinator:RedisMinReplicas</c> within
/// <c>Coordinator:RedisReplicaTimeoutMs</c>: a failover now could lose it, so it does not count as stored. A
/// <see cref="RedisException"/>, so every caller that retries Redis outages retries this too (every write is idempotent).
/// </summary>
public sealed class StoreNotReplicatedException(string message) : RedisException(message);
