using System.CommandLine;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using RMTC.Farm.Cli.Commands;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Cli.Client;

/// <summary>
/// Follows a job to its end (<c>rmtc watch</c>, <c>rmtc submit --wait</c>), riding through coordinator restarts: when
/// the coordinator stops answering, it reconnects with capped exponential backoff and resumes after the last event
/// it received, printing no event twice, until the run ends or <c>--reconnect-timeout</c> passes without an answer.
/// </summary>
internal static class JobFollower
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(5);

    /// <summary><c>--reconnect-timeout</c>: how long one outage may last before following gives up (default 5 minutes).</summary>
    public static Option<TimeSpan> ReconnectTimeoutOption() => new("--reconnect-timeout")
    {
        Description = "While following, how long to keep reconnecting when the coordinator stops answering (a restart, a network drop) before giving up with exit 1, e.g. 30s, 10m (default 5m)",
        HelpName = "DURATION",
        DefaultValueFactory = _ => TimeSpan.FromMinutes(5),
        CustomParser = r => HostConfiguration.ParseDuration(r) ?? TimeSpan.Zero,
    };

    /// <summary>Prints the job's events until it ends and returns it as it ended; null when the coordinator stayed away (said on stderr).</summary>
    /// <param name="channel">The coordinator's channel.</param>
    /// <param name="address">The coordinator's address, for messages.</param>
    /// <param name="jobId">Run id or unique prefix.</param>
    /// <param name="output">Where events are printed.</param>
    /// <param name="json">One JSON object per event instead of text.</param>
    /// <param name="reconnectTimeout">How long one outage may last before following gives up.</param>
    /// <param name="answered">
    /// True when this coordinator already answered (the submission before --wait). Until it has, a coordinator that
    /// does not answer is an error at once (a wrong address), not an outage to wait out.
    /// </param>
    /// <param name="ct">Stops following.</param>
    public static async Task<Job?> FollowAsync(GrpcChannel channel, string address, string jobId, TextWriter output, bool json, TimeSpan reconnectTimeout, bool answered, CancellationToken ct)
    {
        var jobs = FarmClient.Jobs(channel);
        var printer = new EventPrinter(output, json);
        // Every recorded event is named by its hash: a replay after a reconnect prints only what was not printed.
        var printed = new HashSet<string>(StringComparer.Ordinal);
        ulong afterSeq = 0;
        var afterHash = "";
        Job? last = null;
        Stopwatch? outage = null;
        var delay = FirstDelay;
        while (true)
        {
            RpcException? lost;
            try
            {
                using var call = jobs.WatchJob(new WatchJobRequest { JobId = jobId, AfterSeq = afterSeq, AfterHash = afterHash }, cancellationToken: ct);
                await call.ResponseHeadersAsync;
                answered = true;
                if (outage is not null)
                {
                    await Console.Error.WriteLineAsync($"coordinator at {address} answers again after {outage.Elapsed.TotalSeconds:F0} s: following {jobId} from event {afterSeq}");
                    outage = null;
                    delay = FirstDelay;
                }

                await foreach (var e in call.ResponseStream.ReadAllAsync(ct))
                {
                    last = e.Job ?? last;
                    if (e.Hash.Length > 0)
                    {
                        afterSeq = e.Seq;
                        afterHash = e.Hash;
                        if (!printed.Add(e.Hash))
                        {
                            continue;
                        }
                    }

                    await printer.PrintAsync(e);
                }

                // The stream ends when the run has ended; ask only when its end was not among the events received.
                if (!IsFinal(last))
                {
                    last = await jobs.GetJobAsync(new GetJobRequest { JobId = jobId }, cancellationToken: ct);
                }

                if (IsFinal(last))
                {
                    return last;
                }

                lost = new RpcException(new Status(StatusCode.Unavailable, "the event stream ended before the run did"));
            }
            catch (RpcException e) when (answered && !ct.IsCancellationRequested && IsConnectionLoss(e))
            {
                lost = e;
            }

            if (outage is null)
            {
                outage = Stopwatch.StartNew();
                await Console.Error.WriteLineAsync($"coordinator at {address} unreachable ({lost.Status.Detail}); retrying for up to {reconnectTimeout.TotalSeconds:F0} s…");
            }

            var left = reconnectTimeout - outage.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                await Console.Error.WriteLineAsync(
                    $"error: the coordinator at {address} did not answer for {reconnectTimeout.TotalSeconds:F0} s (last: {lost.Status.Detail}); the run may still be going: `rmtc watch {jobId}` follows it again (--reconnect-timeout waits longer)");
                return null;
            }

            await Task.Delay(delay < left ? delay : left, ct);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxDelay.Ticks));
        }
    }

    /// <summary>The exit code of a followed job: 0 if it succeeded; 1 if it failed, was cancelled, or could not be followed to its end.</summary>
    public static int ExitCode(Job? final) => final?.State == JobState.Succeeded ? 0 : 1;

    private static bool IsFinal(Job? job) => job?.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;

    /// <summary>The coordinator went away (killed, restarting, network down), as opposed to an answer about the job.</summary>
    private static bool IsConnectionLoss(RpcException e) => e.StatusCode switch
    {
        StatusCode.Unavailable => true,
        // A stream reset by a coordinator that stops, or a connection cut mid-message.
        StatusCode.Cancelled => true,
        StatusCode.Internal or StatusCode.Unknown => e.Status.DebugException is IOException or HttpRequestException,
        _ => false,
    };
}
