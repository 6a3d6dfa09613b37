using System.Diagnostics;
using RMTC.Farm.Integration.Tests.Failover;
using RMTC.Farm.Integration.Tests.Fixtures;
using StackExchange.Redis;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// The soak's Redis: one <c>redis-server</c>, or a primary with two replicas behind three sentinels (the failover soak).
/// Reads for the soak's checks go to whichever server is the primary now.
/// </summary>
internal sealed class SoakStore : IAsyncDisposable
{
    private readonly RedisServer? _single;
    private readonly SentinelRedis? _sentinel;

    private SoakStore(RedisServer? single, SentinelRedis? sentinel) => (_single, _sentinel) = (single, sentinel);

    /// <summary>The lone redis-server; only without Sentinel.</summary>
    public RedisServer Single => _single ?? throw new InvalidOperationException("the soak's Redis runs behind Sentinel: there is no single server");

    /// <summary>What <c>rmtc coordinator --redis</c> gets: the lone server, or null behind Sentinel (see <see cref="CoordinatorEnvironment"/>).</summary>
    public string? RedisArgument => _single?.Endpoint;

    /// <summary>The coordinator's settings for the sentinels; empty for a lone server.</summary>
    public IReadOnlyDictionary<string, string> CoordinatorEnvironment => _sentinel is null
        ? new Dictionary<string, string>()
        : new Dictionary<string, string>
        {
            ["RMTC_Coordinator__RedisSentinels"] = _sentinel.Sentinels,
            ["RMTC_Coordinator__RedisServiceName"] = SentinelRedis.ServiceName,
        };

    /// <summary>What the soak's first line says about the store.</summary>
    public string Describe => _sentinel is null ? $"redis-server {_single!.Endpoint}" : $"Redis behind Sentinel (primary {_sentinel.FirstPrimary}, 2 replicas, sentinels {_sentinel.Sentinels})";

    public static async Task<SoakStore> StartAsync(bool sentinel) =>
        sentinel ? new SoakStore(null, await SentinelRedis.StartAsync(replicas: 2, sentinels: 3)) : new SoakStore(await RedisServer.StartAsync(), null);

    /// <summary>The primary now: the lone server, or the one the sentinels name.</summary>
    public async Task<string> PrimaryAsync() =>
        _single?.Endpoint ?? await _sentinel!.PrimaryAsync() ?? throw new InvalidOperationException("no sentinel names a primary:\n" + _sentinel.Output);

    /// <summary>A connection of the soak's own to the primary now.</summary>
    public async Task<IConnectionMultiplexer> ConnectAsync()
    {
        var options = ConfigurationOptions.Parse(await PrimaryAsync());
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 5000;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>
    /// SIGKILLs the primary, waits until the sentinels name another, then restarts the killed server as a replica of it
    /// (its service manager starting it again; one back as a primary before the sentinels demote it is a fault of its
    /// own, not soaked). Returns how long the promotion took after the kill.
    /// </summary>
    public async Task<TimeSpan> FailOverAsync()
    {
        var sentinel = _sentinel ?? throw new InvalidOperationException("a failover needs Redis behind Sentinel");
        var primary = await PrimaryAsync();
        var killed = Stopwatch.StartNew();
        await sentinel.KillAsync(primary);
        while ((await sentinel.PrimaryAsync()) is not { } now || now == primary)
        {
            if (killed.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"soak: the sentinels promoted no replica within 60 s of killing {primary}:\n{sentinel.Output}");
            }

            await Task.Delay(50);
        }

        var promoted = killed.Elapsed;
        await sentinel.RestartAsReplicaAsync(primary);
        return promoted;
    }

    public async ValueTask DisposeAsync()
    {
        _single?.Dispose();
        if (_sentinel is not null)
        {
            await _sentinel.DisposeAsync();
        }
    }
}
