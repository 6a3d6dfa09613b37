using Microsoft.Extensions.Options;
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

        if (!string.IsNullOrEmpty(options.RedisPassword))
        {
            configuration.Password = options.RedisPassword;
        }

        // Keep trying in the background when Redis restarts or fails over; the journal retries writes meanwhile.
        configuration.AbortOnConnectFail = false;
        configuration.ClientName = "rmtc-coordinator";
        return configuration;
    }

    /// <summary>The client options among the sentinels' addresses (<see cref="SentinelAddresses.Options"/>); none: the defaults.</summary>
    internal static ConfigurationOptions ParseOptions(string sentinels) =>
        SentinelAddresses.Options(sentinels) is { Length: > 0 } given ? ConfigurationOptions.Parse(given) : new ConfigurationOptions();

    /// <summary>
    /// Connects as <see cref="Configure"/> says. A password Redis refuses is a setting to fix, not an outage to wait
    /// out: when the first connection fails that way, this throws <see cref="OptionsValidationException"/> naming the
    /// setting (the coordinator then exits 2). Redis out of reach is left to the callers, which retry or explain it
    /// (<see cref="Explain"/>).
    /// </summary>
    public static IConnectionMultiplexer Connect(CoordinatorOptions options)
    {
        var mux = ConnectionMultiplexer.Connect(Configure(options));
        if (!mux.IsConnected)
        {
            try
            {
                mux.GetDatabase().Ping();
            }
            catch (RedisException e) when (IsAuthenticationFailure(e))
            {
                mux.Dispose();
                throw new OptionsValidationException(nameof(CoordinatorOptions), typeof(CoordinatorOptions), [Explain(e, options)]);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // Out of reach for now: the journal and leader election retry, and a start-up recovery says why it failed.
            }
        }

        return mux;
    }

    /// <summary>What the store is, for the start-up line and logs: <c>redis HOST:PORT</c> or <c>redis primary NAME via sentinels …</c>, any password left out.</summary>
    public static string Describe(CoordinatorOptions options) =>
        string.IsNullOrWhiteSpace(options.RedisSentinels)
            ? $"redis {Redact(options.Redis ?? "")}"
            : $"redis primary '{options.RedisServiceName}' via sentinels {Redact(options.RedisSentinels)}";

    /// <summary>
    /// A Redis failure at start in words for an operator: the password refused (which setting to fix), or the
    /// sentinels or the server out of reach (what to start, or which addresses to correct); StackExchange.Redis's own
    /// words follow.
    /// </summary>
    public static string Explain(Exception e, CoordinatorOptions options)
    {
        var reason = Innermost(e);
        if (IsAuthenticationFailure(e))
        {
            return $"Redis refused the password ({reason}): set Coordinator:RedisPassword (or RMTC_Coordinator__RedisPassword) to the data nodes' requirepass"
                + (string.IsNullOrWhiteSpace(options.RedisSentinels) ? "" : $"; the primary of '{options.RedisServiceName}' and every replica must share it (and masterauth)");
        }

        return string.IsNullOrWhiteSpace(options.RedisSentinels)
            ? $"the Redis store {Redact(options.Redis ?? "")} cannot be reached ({reason}): start redis-server there, or correct Coordinator:Redis (--redis)"
            : $"no primary of '{options.RedisServiceName}' could be reached through the sentinels {Redact(options.RedisSentinels)} ({reason}): start the sentinels and Redis (farm/systemd/rmtc-redis-sentinel.service, rmtc-redis.service), or correct Coordinator:RedisSentinels (--redis-sentinels) and Coordinator:RedisServiceName (--redis-service)";
    }

    /// <summary>Whether Redis (or a sentinel) refused the credentials: NOAUTH, WRONGPASS, or StackExchange.Redis's own verdict.</summary>
    public static bool IsAuthenticationFailure(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure }
                || x.Message.Contains("NOAUTH", StringComparison.Ordinal) || x.Message.Contains("WRONGPASS", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static string Innermost(Exception e)
    {
        var x = e;
        while (x.InnerException is not null)
        {
            x = x.InnerException;
        }

        return x.Message;
    }

    private static string Redact(string configuration) =>
        string.Join(',', configuration.Split(',').Select(part => part.TrimStart().StartsWith("password=", StringComparison.OrdinalIgnoreCase) ? "password=…" : part));
}
