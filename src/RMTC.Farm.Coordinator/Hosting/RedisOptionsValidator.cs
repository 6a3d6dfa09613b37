using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Storage.Redis;

namespace RMTC.Farm.Coordinator.Hosting;

/// <summary>Checks the Redis settings together: one way to reach Redis, sentinels that are addresses, a service name, replicas only with Redis.</summary>
internal sealed class RedisOptionsValidator : IValidateOptions<CoordinatorOptions>
{
    public ValidateOptionsResult Validate(string? name, CoordinatorOptions options)
    {
        var failures = new List<string>();
        var sentinels = !string.IsNullOrWhiteSpace(options.RedisSentinels);
        if (sentinels && !string.IsNullOrWhiteSpace(options.Redis))
        {
            failures.Add("Coordinator:Redis (--redis) and Coordinator:RedisSentinels (--redis-sentinels) are both set: give one, the sentinels when Redis runs behind Sentinel (they name the primary)");
        }

        if (sentinels)
        {
            SentinelAddresses.Parse(options.RedisSentinels!, out var errors);
            failures.AddRange(errors);
            try
            {
                _ = RedisConnection.ParseOptions(options.RedisSentinels!);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException)
            {
                failures.Add($"Coordinator:RedisSentinels has an option StackExchange.Redis does not take: {e.Message}; options go as name=value among the addresses, e.g. password=…");
            }
            if (string.IsNullOrWhiteSpace(options.RedisServiceName))
            {
                failures.Add("Coordinator:RedisSentinels needs Coordinator:RedisServiceName (--redis-service): the name the sentinels monitor the primary by, as in their 'sentinel monitor NAME host port quorum' line");
            }
            else if (options.RedisServiceName.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            {
                failures.Add($"Coordinator:RedisServiceName '{options.RedisServiceName}' contains spaces or control characters: use the name from the sentinels' 'sentinel monitor' line");
            }
        }
        else if (!string.IsNullOrWhiteSpace(options.RedisServiceName))
        {
            failures.Add("Coordinator:RedisServiceName is set without Coordinator:RedisSentinels (--redis-sentinels): list the sentinels, or leave the service name out for a standalone Redis");
        }

        if (!string.IsNullOrEmpty(options.RedisPassword) && !options.UsesRedis)
        {
            failures.Add("Coordinator:RedisPassword is set but no Redis is configured: set Coordinator:Redis or Coordinator:RedisSentinels, or leave the password out");
        }

        if (options.RedisMinReplicas > 0 && !options.UsesRedis)
        {
            failures.Add($"Coordinator:RedisMinReplicas is {options.RedisMinReplicas} but no Redis is configured: the embedded file store has no replicas; set Coordinator:Redis or Coordinator:RedisSentinels, or leave it out");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
