using System.CommandLine;
using RMTC.Farm.Cli.Client;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc watch JOB</c>: live progress of rounds and shards.</summary>
internal static class WatchCommand
{
    public static Command Create()
    {
        var job = new Argument<string>("JOB") { Description = "Job id (or a unique prefix)" };
        var coordinator = FarmClient.CoordinatorOption();
        var json = FarmClient.JsonOption();
        var command = new Command("watch", "Follow a job live: leases, progress, merges, until it ends (exit 0 if it succeeded).") { job, coordinator, json };
        command.SetAction((parse, ct) => FarmClient.RunAsync(parse.GetRequiredValue(coordinator), async channel =>
        {
            var final = await EventPrinter.FollowAsync(FarmClient.Jobs(channel), parse.GetRequiredValue(job), Console.Out, parse.GetValue(json), ct);
            return final?.State == JobState.Succeeded ? 0 : 1;
        }));
        return command;
    }
}
