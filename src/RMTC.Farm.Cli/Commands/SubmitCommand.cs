using System.CommandLine;
using RMTC.Farm.Cli.Client;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc submit job.yaml</c> (or an OpenCue <c>.xml</c> spec): hand a training job to the coordinator.</summary>
internal static class SubmitCommand
{
    public static Command Create()
    {
        var spec = new Argument<FileInfo>("JOB") { Description = "Job spec: our YAML (farm/jobs/denoiser.yaml) or an OpenCue spec with one training job (.xml, farm/examples/opencue/train-denoiser.xml)" };
        var coordinator = FarmClient.CoordinatorOption();
        var wait = new Option<bool>("--wait", "-w") { Description = "Follow the job until it ends, through coordinator restarts (see --reconnect-timeout); exit 0 only if it succeeded" };
        var json = FarmClient.JsonOption();
        var reconnect = JobFollower.ReconnectTimeoutOption();
        var command = new Command("submit", "Submit a training job. The coordinator checks the spec and the dataset first: nothing is scheduled if anything is wrong. A model: block's TorchScript file is tried here first when this host can read it.")
        {
            spec, coordinator, wait, json, reconnect,
        };
        command.SetAction((parse, ct) =>
        {
            var file = parse.GetRequiredValue(spec);
            if (!file.Exists)
            {
                Console.Error.WriteLine($"error: {file.FullName}: no such file (examples: farm/jobs/*.yaml)");
                return Task.FromResult(2);
            }

            // A model: block's file is tried here first when this host can read it and the dataset: a model that does not
            // fit is refused at once, as the run's prepare task would refuse it on an agent.
            var specText = File.ReadAllText(file.FullName);
            var baseDirectory = file.DirectoryName ?? Environment.CurrentDirectory;
            if (SubmitModelCheck.Check(specText, file.Name, baseDirectory) is { Count: > 0 } refusals)
            {
                foreach (var refusal in refusals)
                {
                    Console.Error.WriteLine($"error: {refusal}");
                }

                return Task.FromResult(2);
            }

            var address = parse.GetRequiredValue(coordinator);
            return FarmClient.RunAsync(address, async channel =>
            {
                var jobs = FarmClient.Jobs(channel);
                var response = await jobs.SubmitJobAsync(new SubmitJobRequest
                {
                    SpecYaml = specText,
                    BaseDirectory = baseDirectory,
                    SourceName = file.Name,
                    SubmittedBy = Environment.UserName,
                }, cancellationToken: ct);
                var job = response.Job;
                var asJson = parse.GetValue(json);
                Console.WriteLine(asJson ? JobText.ToJson(job) : $"submitted {job.Id}: {job.Recipe}, {job.Shards} shards x {job.Rounds} rounds on {job.DatasetName}");
                if (!parse.GetValue(wait))
                {
                    return 0;
                }

                return JobFollower.ExitCode(await JobFollower.FollowAsync(channel, address, job.Id, Console.Out, asJson, parse.GetValue(reconnect), answered: true, ct));
            });
        });
        return command;
    }
}
