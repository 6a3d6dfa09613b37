using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;

namespace RMTC.Farm.Coordinator.Services;

/// <summary>
/// The one rule every submission endpoint (rmtc's JobService, the OpenCue port) follows before it answers: a run is
/// acknowledged only once its manifest is in the store, so a crash of the coordinator or of Redis right after the
/// answer cannot lose it.
/// </summary>
internal static class SubmissionAcknowledgement
{
    /// <summary>
    /// Waits until <paramref name="runId"/> is recorded (through a store outage, the journal retries). When the
    /// coordinator stops first, the caller hears Unavailable: the run was not kept and is to be submitted again.
    /// </summary>
    public static async Task WhenRecordedAsync(this FarmScheduler scheduler, string runId, ServerCallContext context)
    {
        try
        {
            await scheduler.WhenRecordedAsync(runId, context.CancellationToken);
        }
        catch (Exception e) when (!context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable,
                $"run {runId} was queued, but the coordinator stopped before the store recorded it ({e.Message}): it is not kept, so submit it again"));
        }
    }
}
