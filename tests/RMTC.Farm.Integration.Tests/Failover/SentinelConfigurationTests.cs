namespace RMTC.Farm.Integration.Tests.Failover;

/// <summary>Redis settings that cannot work are refused at start (exit 2), each named with its fix.</summary>
public sealed class SentinelConfigurationTests
{
    [Fact]
    public async Task Sentinels_that_are_no_addresses_both_stores_or_no_service_name_are_refused_at_start()
    {
        var dir = Directory.CreateTempSubdirectory("rmtc-sentinel-config-").FullName;
        try
        {
            var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "coordinator", "--data-dir", Path.Combine(dir, "data"), "--port", "0", "--metrics-port", "-1", "--opencue-port", "-1",
                "--redis", "127.0.0.1:6379", "--redis-sentinels", "sentinel-a:26379,sentinel-b:99999,,[::1,connectTimeout=soon", "--redis-min-replicas", "-1");
            Assert.True(code == 2, $"exit {code}:\n{output}");
            Assert.Contains("Coordinator:Redis (--redis) and Coordinator:RedisSentinels (--redis-sentinels) are both set", output, StringComparison.Ordinal);
            Assert.Contains("entry 'sentinel-b:99999' has no port number", output, StringComparison.Ordinal);
            Assert.Contains("has an empty entry", output, StringComparison.Ordinal);
            Assert.Contains("entry '[::1' is not host:port", output, StringComparison.Ordinal);
            Assert.Contains("Coordinator:RedisSentinels needs Coordinator:RedisServiceName (--redis-service)", output, StringComparison.Ordinal);
            Assert.Contains("RedisMinReplicas", output, StringComparison.Ordinal);
            Assert.Contains("Coordinator:RedisSentinels has an option StackExchange.Redis does not take", output, StringComparison.Ordinal);

            (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "coordinator", "--data-dir", Path.Combine(dir, "data"), "--port", "0", "--metrics-port", "-1", "--opencue-port", "-1",
                "--redis-service", "rmtc", "--redis-min-replicas", "1");
            Assert.True(code == 2, $"exit {code}:\n{output}");
            Assert.Contains("Coordinator:RedisServiceName is set without Coordinator:RedisSentinels", output, StringComparison.Ordinal);
            Assert.Contains("Coordinator:RedisMinReplicas is 1 but no Redis is configured", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
