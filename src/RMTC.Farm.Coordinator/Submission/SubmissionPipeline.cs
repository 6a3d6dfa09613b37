using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Jobs;

namespace RMTC.Farm.Coordinator.Submission;

/// <summary>
/// The one way a job spec becomes runs, whichever door it came in by (<c>rmtc submit</c>'s YAML or CJSL, an OpenCue
/// launch): parsed once, judged by the door's own policy (shows, dataset roots) on the parsed specs, prepared off the
/// request thread (every sample hashed, shards planned, lists stored), then scheduled all or none.
/// </summary>
public sealed partial class SubmissionPipeline(FarmScheduler scheduler, IArtifactStore artifacts, TimeProvider time, IOptions<CoordinatorOptions> options, ILogger<SubmissionPipeline> log)
{
    /// <summary>
    /// Parses a spec as <c>rmtc submit</c> sends it: our YAML, or an OpenCue spec holding one job.
    /// <paramref name="maxSpecBytes"/> bounds the YAML's expanded size. Throws <see cref="JobSpecException"/>.
    /// </summary>
    public static IReadOnlyList<JobSpec> ParseSubmitted(JobSubmission submission, int maxSpecBytes) =>
        [RunPreparation.ParseSubmitted(submission.SpecYaml, SourceOf(submission), BaseDirectoryOf(submission), maxSpecBytes)];

    /// <summary>Parses an OpenCue launch: any number of jobs, dataset paths absolute. Throws <see cref="JobSpecException"/>.</summary>
    public static IReadOnlyList<JobSpec> ParseLaunch(string cjsl, string sourceName) =>
        RunPreparation.ParseCjsl(cjsl, sourceName, baseDirectory: null);

    /// <summary>What to call a submission in messages: its file name, or "job spec".</summary>
    public static string SourceOf(JobSubmission submission) =>
        string.IsNullOrWhiteSpace(submission.SourceName) ? "job spec" : submission.SourceName;

    /// <summary>
    /// Prepares every spec on the thread pool, so a large dataset's hashing holds no request thread and no scheduler
    /// lock, then schedules them together. Nothing is scheduled when any spec is refused (<see cref="JobSpecException"/>
    /// naming the spec and the fault); lists already stored for a refused spec are content-addressed and harmless.
    /// </summary>
    public async Task<IReadOnlyList<RunStatus>> SubmitAsync(IReadOnlyList<JobSpec> specs, string sourceName, string submittedBy, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var prepared = await Task.Run(
            () => specs.Select(spec =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                var run = RunPreparation.Prepare(spec, sourceName, submittedBy, artifacts, time.GetUtcNow());
                ManifestBudget.Check(run.Manifest, run.Spec, options.Value.MaxManifestBytes);
                return run;
            }).ToList(),
            cancellationToken);
        var runs = scheduler.Enqueue(prepared, sourceName);
        LogPrepared(runs.Count, sourceName, prepared.Sum(p => p.Manifest.Dataset.Samples), time.GetElapsedTime(started).TotalMilliseconds);
        return runs;
    }

    private static string BaseDirectoryOf(JobSubmission submission) =>
        string.IsNullOrWhiteSpace(submission.BaseDirectory) ? Environment.CurrentDirectory : submission.BaseDirectory;

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Runs} run(s) of {Source} prepared in {Milliseconds:F0} ms ({Samples} samples hashed)")]
    private partial void LogPrepared(int runs, string source, int samples, double milliseconds);
}
