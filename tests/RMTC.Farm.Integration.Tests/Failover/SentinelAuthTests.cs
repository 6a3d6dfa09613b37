using System.Globalization;
using System.Text.Json;
using Grpc.Net.Client;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.Failover;

/// <summary>
/// Redis behind Sentinel as a farm runs it, on real processes: data nodes that require a password (<c>requirepass</c>,
/// replicas with <c>masterauth</c>, sentinels with <c>auth-pass</c>), reached with <c>Coordinator:RedisPassword</c> from
/// the environment or the config file; a wrong password refused at start naming the setting; sentinels that are down
/// when the coordinator starts.
/// </summary>
public sealed class SentinelAuthTests
{
    private const string Password = "farm-secret-7f3a";

    [Fact]
    public async Task The_password_from_the_environment_or_the_config_file_reaches_the_primary_through_the_sentinels_and_a_wrong_one_is_refused_at_start()
    {
        var root = Directory.CreateTempSubdirectory("rmtc-sentinel-auth-").FullName;
        await using var redis = await SentinelRedis.StartAsync(replicas: 1, sentinels: 1, password: Password);
        try
        {
            var data = Path.Combine(root, "data");
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", data, 40, seed: 5);
            var farmDir = Path.Combine(root, "farm");

            // From the environment: a submission is answered only once its record reached the replica (WAIT), so an
            // answer means the coordinator writes to the password-protected primary.
            string job;
            using (var coordinator = await CoordinatorProcess.StartAsync(farmDir, CoordinatorProcess.FreePort(), environment: new Dictionary<string, string>
            {
                ["RMTC_Coordinator__RedisSentinels"] = redis.Sentinels,
                ["RMTC_Coordinator__RedisServiceName"] = SentinelRedis.ServiceName,
                ["RMTC_Coordinator__RedisPassword"] = Password,
            }))
            {
                Assert.Contains("writes on 1 replica(s) before they count", coordinator.Output, StringComparison.Ordinal);
                using var channel = GrpcChannel.ForAddress(coordinator.Address);
                job = (await new JobService.JobServiceClient(channel).SubmitJobAsync(new SubmitJobRequest
                {
                    SpecYaml = $"name: auth\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 1\n",
                    SourceName = "auth.yaml",
                })).Job.Id;
                Assert.DoesNotContain(Password, coordinator.Output, StringComparison.Ordinal);
            }

            // From the config file, on a fresh coordinator: it reads the run back from the primary.
            var config = Path.Combine(root, "coordinator.json");
            await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
            {
                Coordinator = new { RedisSentinels = redis.Sentinels, RedisServiceName = SentinelRedis.ServiceName, RedisPassword = Password },
            }));
            var port = CoordinatorProcess.FreePort();
            using (var configured = new Coordinator("--config", config, "--data-dir", farmDir, "--port", port.ToString(CultureInfo.InvariantCulture), "--metrics-port", "-1", "--opencue-port", "-1"))
            {
                await FarmFixture.WaitUntilAsync(() => configured.Output.Contains("listening on", StringComparison.Ordinal) || configured.Process.HasExited,
                    TimeSpan.FromSeconds(60), () => "the configured coordinator did not start:\n" + configured.Output);
                Assert.False(configured.Process.HasExited, configured.Output);
                using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
                var state = (await new JobService.JobServiceClient(channel).GetJobAsync(new GetJobRequest { JobId = job })).State;
                Assert.True(state is JobState.Queued or JobState.Running, $"{job}: {state}\n{configured.Output}");
            }

            // A wrong password (here among the sentinels' options) is a setting to fix: exit 2, naming the setting, never the password.
            var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "coordinator", "--data-dir", Path.Combine(root, "wrong"), "--port", "0", "--metrics-port", "-1",
                "--opencue-port", "-1", "--redis-sentinels", $"{redis.Sentinels},password=not-the-password", "--redis-service", SentinelRedis.ServiceName);
            Assert.True(code == 2, $"exit {code}:\n{output}");
            Assert.Contains("Redis refused the password", output, StringComparison.Ordinal);
            Assert.Contains("set Coordinator:RedisPassword", output, StringComparison.Ordinal);
            Assert.DoesNotContain("not-the-password", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Sentinels_down_at_start_a_lone_coordinator_exits_saying_what_to_start_and_one_in_leader_election_waits_as_a_standby()
    {
        var root = Directory.CreateTempSubdirectory("rmtc-sentinels-down-").FullName;
        try
        {
            // Ports nobody listens on: the sentinels are not up yet.
            var sentinels = $"127.0.0.1:{CoordinatorProcess.FreePort().ToString(CultureInfo.InvariantCulture)},127.0.0.1:{CoordinatorProcess.FreePort().ToString(CultureInfo.InvariantCulture)}";

            // Alone, it must recover the live runs from the store before it serves: it cannot start, and says why and what
            // to start (its supervisor starts it again: Restart=on-failure).
            var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "coordinator", "--data-dir", Path.Combine(root, "a"), "--port", "0", "--metrics-port", "-1",
                "--opencue-port", "-1", "--redis-sentinels", sentinels, "--redis-service", "rmtc");
            Assert.True(code == 1, $"exit {code}:\n{output}");
            Assert.Contains($"error: no primary of 'rmtc' could be reached through the sentinels {sentinels}", output, StringComparison.Ordinal);
            Assert.Contains("start the sentinels and Redis", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);

            // In leader election it starts as a standby and keeps trying to take the lease, saying Redis does not answer.
            var port = CoordinatorProcess.FreePort();
            using var standby = await CoordinatorProcess.StartAsync(Path.Combine(root, "b"), port, environment: new Dictionary<string, string>
            {
                ["RMTC_Coordinator__RedisSentinels"] = sentinels,
                ["RMTC_Coordinator__RedisServiceName"] = "rmtc",
                ["RMTC_Coordinator__Leadership__Enabled"] = "true",
                ["RMTC_Coordinator__Leadership__AdvertisedAddress"] = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
            });
            await FarmFixture.WaitUntilAsync(() => standby.Output.Split("Leader election (standby): Redis did not answer").Length > 2 || standby.Process.HasExited,
                TimeSpan.FromSeconds(60), () => "the standby did not say it waits for Redis:\n" + standby.Output);
            Assert.False(standby.Process.HasExited, standby.Output);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed class Coordinator(params string[] arguments) : RmtcProcess(["coordinator", .. arguments]);
}
