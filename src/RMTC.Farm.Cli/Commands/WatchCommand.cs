using System.CommandLine;
using RMTC.Farm.Cli.Client;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc watch JOB</c>: live progress of rounds and shards.</summary>
internal static class WatchCommand
{
    public static Command Create()
    {
        var job = new Argument<string>("JOB") { Description = "Job id (or a unique prefix)" };
        var coordinator = FarmClient.CoordinatorOption();
        var json = FarmClient.JsonOption();
        var reconnect = JobFollower.ReconnectTimeoutOption();
        var command = new Command("watch", "Follow a job: its history, then leases, progress and merges live, until it ends (exit 0 if it succeeded). " +
            "A run that already ended is replayed. Rides through coordinator restarts: reconnects and resumes after the last event.")
        {
            job, coordinator, json, reconnect,
        };
        command.SetAction((parse, ct) =>
        {
            var address = parse.GetRequiredValue(coordinator);
            return FarmClient.RunAsync(address, async channel => JobFollower.ExitCode(
                await JobFollower.FollowAsync(channel, address, parse.GetRequiredValue(job), Console.Out, parse.GetValue(json), parse.GetValue(reconnect), answered: false, ct)));
        });
        return command;
    }
}
