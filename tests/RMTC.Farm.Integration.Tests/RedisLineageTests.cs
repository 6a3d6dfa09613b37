using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Protos.V1;
using StackExchange.Redis;

namespace RMTC.Farm.Integration.Tests;

/// <summary>A coordinator on Redis: the run's lineage lands there, and tampering done in Redis itself is caught.</summary>
public sealed class RedisLineageTests : IClassFixture<RedisServer>
{
    private readonly RedisServer _redis;

    public RedisLineageTests(RedisServer redis) => _redis = redis;

    [Fact]
    public async Task A_run_on_redis_verifies_and_an_event_edited_in_redis_is_caught_by_the_cli()
    {
        await using var farm = await FarmFixture.StartAsync(redis: _redis.Endpoint);
        var data = farm.Synthesize("classifier", 30);
        await farm.StartAgentsAsync(1);
        var job = await farm.SubmitAsync($"name: redis-run\nrecipe: classifier\ndataset: {data}\nshards: 1\nrounds: 1\n");
        Assert.Equal(JobState.Succeeded, (await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(2))).State);

        var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "verify", job.Id, "--coordinator", farm.Address);
        Assert.True(code == 0, output);
        Assert.Contains("intact", output);

        // Someone with Redis access rewrites history: the lease (third event) now names another agent.
        using var mux = await _redis.ConnectAsync();
        var key = $"rmtc:{{run:{job.Id}}}:events";
        var entry = (string)(await mux.GetDatabase().ListGetByIndexAsync(key, 2))!;
        Assert.Contains("shard-leased", entry);
        var forged = entry.Replace("agent-1", "agent-9", StringComparison.Ordinal);
        Assert.NotEqual(entry, forged);
        await mux.GetDatabase().ListSetByIndexAsync(key, 2, forged);

        (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "verify", job.Id, "--coordinator", farm.Address);
        Assert.Equal(1, code);
        Assert.Contains("TAMPERED", output);
        Assert.Contains("entry 3", output);

        (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "trace", job.DatasetDigest, "--down", "--coordinator", farm.Address);
        Assert.True(code == 0, output);
        Assert.Contains(job.Id, output);
    }
}
