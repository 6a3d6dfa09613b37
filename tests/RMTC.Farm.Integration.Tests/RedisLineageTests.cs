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

        // Someone with Redis access rewrites history: the third event (the preparation's result) now names another agent.
        using var mux = await _redis.ConnectAsync();
        var key = $"rmtc:{{run:{job.Id}}}:events";
        var entry = (string)(await mux.GetDatabase().ListGetByIndexAsync(key, 2))!;
        // Submitted, the preparation leased, then prepared by whichever agent was free.
        Assert.Contains("prepared", entry);
        var forged = System.Text.RegularExpressions.Regex.Replace(entry, "agent-[0-9]", "agent-9");
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

    [Fact]
    public async Task Redis_killed_mid_run_loses_nothing_the_coordinator_retries_and_the_run_completes()
    {
        await using var farm = await FarmFixture.StartAsync(redis: _redis.Endpoint);
        var data = farm.Synthesize("classifier", 200);
        await farm.StartAgentsAsync(2);
        var job = await farm.SubmitAsync($"name: redis-outage\nrecipe: classifier\ndataset: {data}\nshards: 4\nrounds: 2\nlocal: {{ epochs: 2, batch_size: 4 }}\n");
        await FarmFixture.WaitUntilAsync(() => farm.Scheduler.GetJob(job.Id)!.ShardsDone >= 1, TimeSpan.FromSeconds(60), farm.AgentLogs);

        // Redis dies (SIGKILL) and is back two seconds later; shards keep finishing meanwhile.
        await _redis.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        await _redis.RestartAsync();

        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));
        Assert.True(done.State == JobState.Succeeded, done + "\n" + farm.AgentLogs());

        // What Redis holds is the whole record: every attempt, both rounds, an intact sealed chain.
        using var mux = await _redis.ConnectAsync();
        var stored = Core.Lineage.RunManifest.FromJson((string)(await mux.GetDatabase().HashGetAsync($"rmtc:{{run:{job.Id}}}:manifest", "json"))!);
        var live = farm.Scheduler.GetManifest(job.Id)!;
        Assert.Equal(live.ToJson(), stored.ToJson());
        Assert.Equal(2, stored.Rounds.Count);
        Assert.All(stored.Rounds, r => Assert.Equal(4, r.MergedResults.Count));
        var verify = await new LineageService.LineageServiceClient(farm.Channel).VerifyAsync(new LineageRunRequest { RunId = job.Id });
        var chain = (await mux.GetDatabase().ListRangeAsync($"rmtc:{{run:{job.Id}}}:events")).Select(v => Core.Lineage.LineageEvent.FromJson(v!))
            .Select((e, i) => $"{i + 1}: seq {e.Seq} {e.Kind} prev {e.PrevHash[..8]} hash {e.Hash[..8]}");
        Assert.True(verify.Ok, string.Join("\n", verify.Problems.Take(3)) + "\n" + string.Join("\n", chain.Take(12)));
    }
}
