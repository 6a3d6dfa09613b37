using RMTC.Farm.Coordinator.Storage.Redis;
using StackExchange.Redis;

namespace RMTC.Farm.Coordinator.Hosting;

/// <summary>The coordinator's one Redis connection: a standalone server (<c>Coordinator:Redis</c>) or the primary that Sentinel names (<c>Coordinator:RedisSentinels</c>).</summary>
public static class RedisConnection
{
    /// <summary>
    /// The client configuration for <paramref name="options"/> (validated already). Behind Sentinel the endpoints are
    /// the sentinels and the service name picks the primary; StackExchange.Redis then asks them for the primary,
    /// connects there, and switches to the promoted replica when they announce a failover (or when it finds its primary
    /// demoted).
    /// </summary>
    public static ConfigurationOptions Configure(CoordinatorOptions options)
    {
        ConfigurationOptions configuration;
        if (string.IsNullOrWhiteSpace(options.RedisSentinels))
        {
            configuration = ConfigurationOptions.Parse(options.Redis!);
        }
        else
        {
            configuration = ParseOptions(options.RedisSentinels);
            configuration.ServiceName = options.RedisServiceName;
            foreach (var (host, port) in SentinelAddresses.Parse(options.RedisSentinels, out _))
            {
                configuration.EndPoints.Add(host, port);
            }
        }

        // Keep trying in the background when Redis restarts or fails over; the journal retries writes meanwhile.
        configuration.AbortOnConnectFail = false;
        configuration.ClientName = "rmtc-coordinator";
        return configuration;
    }

    /// <summary>The client options among the sentinels' addresses (<see cref="SentinelAddresses.Options"/>); none: the defaults.</summary>
    internal static ConfigurationOptions ParseOptions(string sentinels) =>
        SentinelAddresses.Options(sentinels) is { Length: > 0 } given ? ConfigurationOptions.Parse(given) : new ConfigurationOptions();

    /// <summary>Connects as <see cref="Configure"/> says.</summary>
    public static IConnectionMultiplexer Connect(CoordinatorOptions options) => ConnectionMultiplexer.Connect(Configure(options));

    /// <summary>What the store is, for the start-up line and logs: <c>redis HOST:PORT</c> or <c>redis primary NAME via sentinels …</c>.</summary>
    public static string Describe(CoordinatorOptions options) =>
        string.IsNullOrWhiteSpace(options.RedisSentinels)
            ? $"redis {options.Redis}"
            : $"redis primary '{options.RedisServiceName}' via sentinels {options.RedisSentinels}";
}
