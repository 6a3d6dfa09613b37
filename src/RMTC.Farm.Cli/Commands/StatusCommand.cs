using System.CommandLine;
using RMTC.Farm.Cli.Client;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc status [JOB]</c>: the farm's jobs, or one job in detail.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var job = new Argument<string?>("JOB") { Description = "Job id (or a unique prefix); all jobs when omitted", Arity = ArgumentArity.ZeroOrOne };
        var coordinator = FarmClient.CoordinatorOption();
        var json = FarmClient.JsonOption();
        var command = new Command("status", "Show jobs: state, current round, shards done/running/queued, losses per round.") { job, coordinator, json };
        command.SetAction((parse, ct) => FarmClient.RunAsync(parse.GetRequiredValue(coordinator), async channel =>
        {
            var jobs = FarmClient.Jobs(channel);
            var asJson = parse.GetValue(json);
            if (parse.GetValue(job) is { Length: > 0 } id)
            {
                var j = await jobs.GetJobAsync(new GetJobRequest { JobId = id }, cancellationToken: ct);
                Console.WriteLine(asJson ? JobText.ToJson(j) : JobText.Detail(j));
                return 0;
            }

            var list = await jobs.ListJobsAsync(new ListJobsRequest(), cancellationToken: ct);
            if (asJson)
            {
                Console.WriteLine(JobText.ToJson(list));
            }
            else if (list.Jobs.Count == 0)
            {
                Console.WriteLine("no jobs yet: submit one with `rmtc submit job.yaml`");
            }
            else
            {
                foreach (var j in list.Jobs)
                {
                    Console.WriteLine(JobText.Line(j));
                }
            }

            return 0;
        }));
        return command;
    }
}
