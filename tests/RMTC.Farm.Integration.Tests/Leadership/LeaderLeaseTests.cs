using RMTC.Farm.Coordinator.Leadership;
using RMTC.Farm.Integration.Tests.Fixtures;
using StackExchange.Redis;

namespace RMTC.Farm.Integration.Tests.Leadership;

/// <summary>The leader lease on a real redis-server: one holder at a time, tokens that only rise, renewal only by the holder.</summary>
public sealed class LeaderLeaseTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private IConnectionMultiplexer _mux = null!;

    public async Task InitializeAsync()
    {
        _mux = await redis.ConnectAsync();
        await _mux.GetDatabase().KeyDeleteAsync("rmtc:leader");
    }

    public async Task DisposeAsync() => await _mux.DisposeAsync();

    [Fact]
    public async Task One_holder_at_a_time_and_each_acquisition_takes_a_higher_token()
    {
        var lease = new LeaderLease(_mux);
        var a = await lease.TryAcquireAsync("http://a:7460", TimeSpan.FromMinutes(1));
        Assert.True(a.Mine);
        Assert.Equal("http://a:7460", a.Address);

        var b = await lease.TryAcquireAsync("http://b:7460", TimeSpan.FromMinutes(1));
        Assert.False(b.Mine);
        Assert.Equal((a.Token, "http://a:7460"), (b.Token, b.Address));
        Assert.True(await lease.RenewAsync(a, TimeSpan.FromMinutes(1)));
        Assert.False(await lease.RenewAsync(new LeaseHolder(a.Token, "http://b:7460", $"{a.Token}|http://b:7460"), TimeSpan.FromMinutes(1)));

        await lease.ReleaseAsync(b with { Value = $"{a.Token}|http://b:7460" });
        Assert.False((await lease.TryAcquireAsync("http://b:7460", TimeSpan.FromMinutes(1))).Mine);

        await lease.ReleaseAsync(a);
        var b2 = await lease.TryAcquireAsync("http://b:7460", TimeSpan.FromMinutes(1));
        Assert.True(b2.Mine);
        Assert.True(b2.Token > a.Token);
        Assert.Equal(b2.Token, (long)await _mux.GetDatabase().StringGetAsync("rmtc:leader:fence"));
        // The old holder's renewal finds the lease taken: it must step down.
        Assert.False(await lease.RenewAsync(a, TimeSpan.FromMinutes(1)));
        await lease.ReleaseAsync(b2);
    }

    [Fact]
    public async Task An_unrenewed_lease_expires_and_a_standby_takes_it_with_a_newer_token()
    {
        var lease = new LeaderLease(_mux);
        var a = await lease.TryAcquireAsync("http://a:7460", TimeSpan.FromMilliseconds(300));
        Assert.True(a.Mine);
        LeaseHolder? b = null;
        await FarmFixture.WaitUntilAsync(() => (b = lease.TryAcquireAsync("http://b:7460", TimeSpan.FromMinutes(1)).GetAwaiter().GetResult()).Mine,
            TimeSpan.FromSeconds(10), () => "the lease never expired");
        Assert.Equal(a.Token + 1, b!.Token);
        Assert.False(await lease.RenewAsync(a, TimeSpan.FromMinutes(1)));
        await lease.ReleaseAsync(b);
    }

    [Fact]
    public void A_lease_value_that_is_not_ours_is_named()
    {
        var error = Assert.Throws<InvalidDataException>(() => LeaseHolder.Parse("garbage"));
        Assert.Contains("rmtc:leader", error.Message, StringComparison.Ordinal);
        Assert.Equal(new LeaseHolder(12, "http://a:1", "12|http://a:1"), LeaseHolder.Parse("12|http://a:1"));
    }
}
