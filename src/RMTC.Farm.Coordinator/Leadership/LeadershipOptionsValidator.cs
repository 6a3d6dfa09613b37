using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Coordinator.Leadership;

/// <summary>Checks that leadership is configured so it can work: a shared Redis store, an address clients can use, renewals well inside the lease.</summary>
internal sealed class LeadershipOptionsValidator(IOptions<CoordinatorOptions> coordinator) : IValidateOptions<LeadershipOptions>
{
    public ValidateOptionsResult Validate(string? name, LeadershipOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }

        var failures = new List<string>();
        if (!coordinator.Value.UsesRedis)
        {
            failures.Add("Coordinator:Leadership:Enabled needs Coordinator:Redis (--redis) or Coordinator:RedisSentinels (--redis-sentinels): coordinators share the lease and the runs through Redis; the embedded file store has one coordinator");
        }

        if (string.IsNullOrWhiteSpace(options.AdvertisedAddress))
        {
            failures.Add("Coordinator:Leadership:AdvertisedAddress is required with leadership: the address agents and wranglers reach this coordinator's gRPC port by, e.g. http://coord-a.farm:7460");
        }
        else if (!Uri.TryCreate(options.AdvertisedAddress, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https") || uri.Host.Length == 0 || options.AdvertisedAddress.Contains(',', StringComparison.Ordinal))
        {
            failures.Add($"Coordinator:Leadership:AdvertisedAddress '{options.AdvertisedAddress}' is not an address: use http(s)://HOST:PORT, e.g. http://coord-a.farm:7460");
        }

        if (options.RenewIntervalMs * 2 > options.LeaseMs)
        {
            failures.Add($"Coordinator:Leadership:RenewIntervalMs ({options.RenewIntervalMs}) must be at most half of LeaseMs ({options.LeaseMs}), so one late renewal does not lose the lease: lower it, e.g. to {options.LeaseMs / 3}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
