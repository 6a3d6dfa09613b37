using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// The scheduler's clock: expires the leases of silent agents, so their shards go back to the queue, and applies round
/// policies (speculative leases for stragglers, closing rounds at their quorum deadline).
/// </summary>
public sealed class LeaseReaper(FarmScheduler scheduler, TimeProvider time, IOptions<CoordinatorOptions> options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromMilliseconds(Math.Clamp(options.Value.LeaseTimeoutMs / 4, 50, 1000));
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                scheduler.ExpireSilentAgents();
                await scheduler.EnforceRoundPoliciesAsync();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
