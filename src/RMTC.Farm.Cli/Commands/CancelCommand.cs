using System.CommandLine;
using RMTC.Farm.Cli.Client;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc cancel JOB</c>: stop a job; running shards are told to stop.</summary>
internal static class CancelCommand
{
    public static Command Create()
    {
        var job = new Argument<string>("JOB") { Description = "Job id (or a unique prefix)" };
        var reason = new Option<string?>("--reason") { Description = "Recorded in the manifest" };
        var coordinator = FarmClient.CoordinatorOption();
        var command = new Command("cancel", "Cancel a job: queued shards are dropped, running ones stopped; what was recorded stays.") { job, reason, coordinator };
        command.SetAction((parse, ct) => FarmClient.RunAsync(parse.GetRequiredValue(coordinator), async channel =>
        {
            var j = await FarmClient.Jobs(channel).CancelJobAsync(new Protos.V1.CancelJobRequest { JobId = parse.GetRequiredValue(job), Reason = parse.GetValue(reason) ?? "" }, cancellationToken: ct);
            Console.WriteLine($"{j.Id}: {JobText.State(j.State)}");
            return 0;
        }));
        return command;
    }
}
