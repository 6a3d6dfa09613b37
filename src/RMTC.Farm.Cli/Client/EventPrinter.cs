using Grpc.Core;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Cli.Client;

/// <summary>Follows a job's events and prints them as they happen; returns the job's final state.</summary>
internal static class EventPrinter
{
    /// <summary>Prints events until the job ends. Progress events are thinned to one per shard every few seconds.</summary>
    public static async Task<Job?> FollowAsync(JobService.JobServiceClient jobs, string jobId, TextWriter output, bool json, CancellationToken ct)
    {
        Job? last = null;
        var lastProgress = new Dictionary<int, DateTime>();
        using var call = jobs.WatchJob(new WatchJobRequest { JobId = jobId }, cancellationToken: ct);
        await foreach (var e in call.ResponseStream.ReadAllAsync(ct))
        {
            last = e.Job;
            if (json)
            {
                await output.WriteLineAsync(JobText.ToJson(e));
                continue;
            }

            if (e.Kind == "shard-progress")
            {
                var now = DateTime.UtcNow;
                if (lastProgress.TryGetValue(e.Shard, out var at) && now - at < TimeSpan.FromSeconds(3))
                {
                    continue;
                }

                lastProgress[e.Shard] = now;
            }

            var time = e.At.ToDateTimeOffset().ToLocalTime().ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
            await output.WriteLineAsync($"{time}  {e.Kind,-16} {e.Message}");
        }

        return last;
    }
}
