using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc agent</c>: the render-node daemon (systemd-ready, like OpenCue's RQD).</summary>
internal static class AgentCommand
{
    public static Command Create()
    {
        var coordinator = new Option<string?>("--coordinator", "-c") { Description = "Coordinator address (default: $RMTC_COORDINATOR, else http://127.0.0.1:7460)" };
        var id = new Option<string?>("--id") { Description = "Agent id (default: the host name)" };
        var slots = new Option<int?>("--slots") { Description = "Shard attempts at once (default: GPU count, or 1)" };
        var gpus = new Option<int?>("--gpus") { Description = "GPUs offered to training (default 0)" };
        var tags = new Option<string[]>("--tag") { Description = "Tag of this node (repeat for several)", AllowMultipleArgumentsPerToken = false };
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Scratch space for cached weights and shard work (default ~/.local/share/rmtc-agent)" };
        var threads = new Option<int?>("--threads") { Description = "Torch threads per shard (default: cores / slots)" };
        var config = new Option<FileInfo?>("--config") { Description = "JSON file with an \"Agent\" section (see farm/config/agent.json)" };
        var simulate = new Option<TimeSpan?>("--simulate-training")
        {
            Description = "SIMULATION for measuring the farm: replace training with this wait (e.g. 1s, 00:00:00.250) and return the global weights unchanged (device \"simulated\")",
            CustomParser = r => HostConfiguration.ParseDuration(r),
        };
        var tokenFile = new Option<FileInfo?>("--token-file") { Description = "File holding the farm token the coordinator requires (default: $RMTC_FARM_TOKEN; see README, Security)" };
        var ca = new Option<FileInfo?>("--ca") { Description = "Farm CA (PEM) that signed the coordinator's TLS certificate, for an https:// coordinator (default: $RMTC_CA_FILE)" };
        var yieldFlag = new Option<string?>("--yield-flag")
        {
            Description = "Render-first: yield the node while this file exists (a render manager's pre-frame script writes it, its post-frame script removes it). Running shards stop with a checkpoint and resume elsewhere; no shards are taken meanwhile. Config: Agent:Yield:FlagFile",
        };
        var yieldProbe = new Option<string?>("--yield-probe")
        {
            Description = "Render-first: a shell command that exits 0 while a render runs here, e.g. \"pgrep -f 'rqd.*render'\"; non-zero frees the node. Config: Agent:Yield:ProbeCommand",
        };
        var yieldPoll = new Option<TimeSpan?>("--yield-poll")
        {
            Description = "How often the flag file and probe are checked (default 1s). SIGUSR1 to the agent also forces a yield, until SIGUSR2 (Agent:Yield:Signals)",
            CustomParser = r => HostConfiguration.ParseDuration(r),
        };
        var trainer = new Option<string?>("--trainer")
        {
            Description = "How shards are trained: warm (a long-lived trainer per slot keeps libtorch and decoded samples between shards) or cold (a fresh process per shard). Config: Agent:Trainer:Mode",
        };
        trainer.AcceptOnlyFromAmong(TrainerModes.Warm, TrainerModes.Cold);
        var parentPid = new Option<int?>("--exit-with-parent") { Description = "Stop when this process ends (used by `rmtc demo`)", Hidden = true };
        var command = new Command("agent", "Run an agent: registers with the coordinator, trains the shards it is leased, streams results back. " +
            "Renders come first: while --yield-flag exists, --yield-probe exits 0, or after SIGUSR1 (until SIGUSR2), the node yields: " +
            "running shards stop with a checkpoint that another agent resumes, and no shard is taken until the node is free.")
        {
            coordinator, id, slots, gpus, tags, workDir, threads, config, simulate, yieldFlag, yieldProbe, yieldPoll, parentPid, tokenFile, ca, trainer,
        };
        command.SetAction(async (parse, ct) =>
        {
            var (exe, prefix) = SelfLauncher.Command("shard", "run");
            var (_, servePrefix) = SelfLauncher.Command("trainer", "serve");
            var flags = new Dictionary<string, string?>
            {
                ["Agent:Coordinator"] = parse.GetValue(coordinator) ?? Environment.GetEnvironmentVariable("RMTC_COORDINATOR"),
                ["Agent:Id"] = parse.GetValue(id),
                ["Agent:Slots"] = HostConfiguration.Text(parse.GetValue(slots)),
                ["Agent:Gpus"] = HostConfiguration.Text(parse.GetValue(gpus)),
                ["Agent:WorkDirectory"] = parse.GetValue(workDir)?.FullName,
                ["Agent:ThreadsPerShard"] = HostConfiguration.Text(parse.GetValue(threads)),
                ["Agent:TrainerExecutable"] = exe,
                ["Agent:Trainer:Mode"] = parse.GetValue(trainer),
                ["Agent:TokenFile"] = parse.GetValue(tokenFile)?.FullName,
                ["Agent:CaFile"] = parse.GetValue(ca)?.FullName,
                ["Agent:SimulateTrainingMs"] = HostConfiguration.Text(parse.GetValue(simulate) is { } wait ? (int?)wait.TotalMilliseconds : null),
                ["Agent:Yield:FlagFile"] = parse.GetValue(yieldFlag),
                ["Agent:Yield:ProbeCommand"] = parse.GetValue(yieldProbe),
                ["Agent:Yield:PollIntervalMs"] = HostConfiguration.Text(parse.GetValue(yieldPoll) is { } poll ? (int?)poll.TotalMilliseconds : null),
            };
            for (var i = 0; i < prefix.Count; i++)
            {
                flags[$"Agent:TrainerArguments:{i}"] = prefix[i];
            }

            for (var i = 0; i < servePrefix.Count; i++)
            {
                flags[$"Agent:Trainer:ServeArguments:{i}"] = servePrefix[i];
            }

            var tagValues = parse.GetValue(tags) ?? [];
            for (var i = 0; i < tagValues.Length; i++)
            {
                flags[$"Agent:Tags:{i}"] = tagValues[i];
            }

            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory, DisableDefaults = true });
            builder.Configuration.AddEnvironmentVariables("RMTC_");
            HostConfiguration.Apply(builder.Configuration, parse.GetValue(config), flags);
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
                o.ColorBehavior = LoggerColorBehavior.Disabled;
            });
            builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning).AddFilter("Grpc", LogLevel.Warning).AddFilter("Microsoft", LogLevel.Warning);
            builder.Services.AddSystemd();
            builder.Services.AddRmtcAgent(builder.Configuration);
            using var host = builder.Build();
            if (parse.GetValue(parentPid) is { } pid)
            {
                _ = ParentWatch.StopWhenGoneAsync(pid, host.Services.GetRequiredService<IHostApplicationLifetime>(), ct);
            }

            try
            {
                await host.RunAsync(ct);
            }
            catch (OptionsValidationException e)
            {
                await Console.Error.WriteLineAsync($"error: invalid configuration: {string.Join("; ", e.Failures)}");
                return 2;
            }

            return 0;
        });
        return command;
    }
}
