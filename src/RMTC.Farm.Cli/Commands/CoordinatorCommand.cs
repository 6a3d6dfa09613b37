using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Leadership;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc coordinator</c>: the farm's scheduler, as a long-running service.</summary>
internal static class CoordinatorCommand
{
    public static Command Create()
    {
        var dataDir = new Option<DirectoryInfo?>("--data-dir") { Description = "Where manifests and artifacts live (default ~/.local/share/rmtc; on a farm, shared storage every node reads)" };
        var listen = new Option<string?>("--listen") { Description = "Address to bind (default 127.0.0.1; 0.0.0.0 for the farm network)" };
        var port = new Option<int?>("--port") { Description = "gRPC port (default 7460; 0 picks a free one)" };
        var leaseTimeout = new Option<int?>("--lease-timeout-ms") { Description = "An agent silent this long loses its leases (default 10000)" };
        var metricsPort = new Option<int?>("--metrics-port") { Description = "Prometheus /metrics port, HTTP/1.1 (default 9464; 0 picks a free one; -1 turns it off)" };
        var openCuePort = new Option<int?>("--opencue-port") { Description = "Port for OpenCue tools (pycue, pyoutline, cuesubmit: CUEBOT_HOSTS=host:PORT), plaintext gRPC (default 8443 as Cuebot; 0 picks a free one; -1 turns it off). With tokens configured it is off unless Coordinator:OpenCueSubmitHosts lists submit hosts" };
        var openCueListen = new Option<string?>("--opencue-listen") { Description = "Address the OpenCue port binds (default: as --listen)" };
        var redis = new Option<string?>("--redis") { Description = "Keep manifests, event logs and indexes in Redis (host:port); default: the embedded file store" };
        var sentinels = new Option<string?>("--redis-sentinels") { Description = "Redis behind Sentinel instead of --redis: the sentinels, host:port,host:port (the store follows a failover to the promoted replica)" };
        var service = new Option<string?>("--redis-service") { Description = "With --redis-sentinels: the name the sentinels monitor the primary by ('sentinel monitor NAME ...')" };
        var minReplicas = new Option<int?>("--redis-min-replicas") { Description = "Replicas every store write must reach (Redis WAIT) before anything is acknowledged (default 1 with --redis-sentinels, 0 with --redis)" };
        var config = new Option<FileInfo?>("--config") { Description = "JSON file with a \"Coordinator\" section (see farm/config/coordinator.json)" };
        var command = new Command("coordinator", "Run the coordinator: accepts jobs, leases shards to agents, merges rounds, records lineage.")
        {
            dataDir, listen, port, metricsPort, openCuePort, openCueListen, leaseTimeout, redis, sentinels, service, minReplicas, config,
        };
        command.SetAction(async (parse, ct) =>
        {
            var flags = new Dictionary<string, string?>
            {
                ["Coordinator:DataDirectory"] = parse.GetValue(dataDir)?.FullName,
                ["Coordinator:ListenAddress"] = parse.GetValue(listen),
                ["Coordinator:Port"] = HostConfiguration.Text(parse.GetValue(port)),
                ["Coordinator:LeaseTimeoutMs"] = HostConfiguration.Text(parse.GetValue(leaseTimeout)),
                ["Coordinator:Redis"] = parse.GetValue(redis),
                ["Coordinator:RedisSentinels"] = parse.GetValue(sentinels),
                ["Coordinator:RedisServiceName"] = parse.GetValue(service),
                ["Coordinator:RedisMinReplicas"] = HostConfiguration.Text(parse.GetValue(minReplicas)),
                ["Coordinator:MetricsPort"] = HostConfiguration.Text(parse.GetValue(metricsPort)),
                ["Coordinator:OpenCuePort"] = HostConfiguration.Text(parse.GetValue(openCuePort)),
                ["Coordinator:OpenCueListenAddress"] = parse.GetValue(openCueListen),
            };
            await using var app = CoordinatorHost.Create(c => HostConfiguration.Apply(c, parse.GetValue(config), flags));
            try
            {
                await app.StartAsync(ct);
            }
            catch (OptionsValidationException e)
            {
                await Console.Error.WriteLineAsync($"error: invalid configuration: {string.Join("; ", e.Failures)}");
                return 2;
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisConnectionException or StackExchange.Redis.RedisTimeoutException)
            {
                // The start-up recovery reads the store: out of reach, the coordinator cannot start (its supervisor tries again).
                await Console.Error.WriteLineAsync($"error: {RedisConnection.Explain(e, app.Services.GetRequiredService<IOptions<CoordinatorOptions>>().Value)}");
                return 1;
            }
            catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                await Console.Error.WriteLineAsync(PortInUse(e.Message, app.Services.GetRequiredService<IOptions<CoordinatorOptions>>().Value, app.Services.GetRequiredService<IOptions<RMTC.Farm.Coordinator.DataPlane.DataPlaneOptions>>().Value.Port));
                return 2;
            }

            var options = app.Services.GetRequiredService<IOptions<CoordinatorOptions>>().Value;
            var store = !options.UsesRedis ? "embedded file store"
                : options.EffectiveRedisMinReplicas == 0 ? RedisConnection.Describe(options)
                : $"{RedisConnection.Describe(options)}, writes on {options.EffectiveRedisMinReplicas} replica(s) before they count";
            Console.WriteLine($"rmtc coordinator listening on {app.BoundAddress()} (data: {Path.GetFullPath(options.DataDirectory)}, lineage: {store}, metrics: {app.MetricsAddress()?.ToString() ?? "off"}, OpenCue: {app.OpenCueAddress()?.ToString() ?? "off"})");
            var leadership = app.Services.GetRequiredService<CoordinatorLeadership>();
            if (leadership.Enabled)
            {
                Console.WriteLine($"leader election on: advertised as {leadership.AdvertisedAddress}; standing by until this coordinator holds the leader lease");
            }

            await app.WaitForShutdownAsync(ct);
            // A leader that lost its lease ends so that its supervisor starts it again, fresh, as a standby.
            return leadership.Phase == LeaderPhase.SteppedDown ? CoordinatorLeadership.SteppedDownExitCode : 0;
        });
        return command;
    }

    /// <summary>
    /// A listener's port is taken (a second coordinator on the machine, most often): which setting chose it and how to
    /// pick another, instead of Kestrel's stack trace.
    /// </summary>
    private static string PortInUse(string message, CoordinatorOptions options, int dataPlanePort)
    {
        var match = System.Text.RegularExpressions.Regex.Match(message, @"(\S+:(\d+)): address already in use", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        var port = match.Success && int.TryParse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture, out var p) ? p : -1;
        var setting = port == options.Port ? "the gRPC port (--port, Coordinator:Port)"
            : port == options.MetricsPort ? "the metrics and Explorer port (--metrics-port, Coordinator:MetricsPort; -1 turns it off)"
            : port == options.OpenCuePort ? "the OpenCue port (--opencue-port, Coordinator:OpenCuePort; -1 turns it off)"
            : port == dataPlanePort ? "the weights data plane's port (Coordinator:DataPlane:Port; -1 turns it off and agents use gRPC)"
            : "a port of this coordinator";
        var where = match.Success ? match.Groups[1].Value : "its address";
        return $"error: cannot listen on {where}: another process holds it (another coordinator on this machine?). Stop it, or give {setting} another value; 0 picks a free port";
    }
}
