namespace RMTC.Farm.Integration.Tests.Leadership;

/// <summary>Leadership that cannot work is refused at start, naming each setting and the fix.</summary>
public sealed class LeadershipConfigurationTests
{
    [Fact]
    public async Task Leadership_without_redis_an_address_or_a_sane_renewal_is_refused_at_start()
    {
        var dir = Directory.CreateTempSubdirectory("rmtc-leadership-config-").FullName;
        try
        {
            var config = Path.Combine(dir, "coordinator.json");
            await File.WriteAllTextAsync(config, """{ "Coordinator": { "Leadership": { "Enabled": true, "LeaseMs": 1000, "RenewIntervalMs": 900 } } }""");
            var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "coordinator", "--config", config, "--data-dir", Path.Combine(dir, "data"), "--port", "0", "--metrics-port", "-1", "--opencue-port", "-1");
            Assert.True(code == 2, $"exit {code}:\n{output}");
            Assert.Contains("Coordinator:Leadership:Enabled needs Coordinator:Redis", output, StringComparison.Ordinal);
            Assert.Contains("Coordinator:Leadership:AdvertisedAddress is required", output, StringComparison.Ordinal);
            Assert.Contains("RenewIntervalMs (900) must be at most half of LeaseMs (1000)", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
