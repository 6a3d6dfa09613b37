using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using StackExchange.Redis;

namespace RMTC.Farm.Coordinator.Leadership;

/// <summary>
/// Leader election, in place of the start-up recovery a lone coordinator does: every renew interval a standby tries to
/// take the lease; once it has it, it recovers every live run from the store (as a restarted coordinator does) and then
/// serves, while the same loop renews the lease. A leader that cannot renew before its lease ends (paused, cut off
/// from Redis) or finds it taken steps down. A graceful stop flushes the journal, then releases the lease so a
/// standby takes over at its next try instead of after the lease's expiry.
/// </summary>
public sealed partial class LeaderElectionService(
    CoordinatorLeadership leadership,
    LeaderLease lease,
    FarmScheduler scheduler,
    IRunStore store,
    TimeProvider time,
    IOptions<LeadershipOptions> options,
    ILogger<LeaderElectionService> log) : BackgroundService
{
    private LeaseHolder? _held;
    private Task _recovery = Task.CompletedTask;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var leaseTime = TimeSpan.FromMilliseconds(o.LeaseMs);
        var address = o.AdvertisedAddress!;
        var expires = DateTimeOffset.MinValue;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(o.RenewIntervalMs), time);
        LogStarting(address, o.LeaseMs, o.RenewIntervalMs);
        try
        {
            do
            {
                try
                {
                    if (lease.IsCluster())
                    {
                        // Checked before every take, not once: the connection may come up after start.
                        LogCluster();
                        leadership.Observe(null);
                        continue;
                    }

                    var asked = time.GetUtcNow();
                    if (_held is null)
                    {
                        var holder = await lease.TryAcquireAsync(address, leaseTime);
                        if (holder.Mine)
                        {
                            _held = holder;
                            expires = asked + leaseTime;
                            leadership.Acquired(holder.Token);
                            _recovery = RecoverAsync(stoppingToken);
                        }
                        else if (leadership.LeaderAddress != holder.Address)
                        {
                            LogStandingBy(holder.Address, holder.Token);
                            leadership.Observe(holder.Address);
                        }
                    }
                    else if (asked >= expires)
                    {
                        // Checked before asking Redis: a process paused past its lease must not act on the old belief.
                        leadership.StepDown($"the leader lease (fencing token {_held.Token}) ran out {(asked - expires).TotalSeconds:F1} s ago without a renewal (the process was paused, or Redis out of reach, for longer than LeaseMs)");
                        return;
                    }
                    else if (await lease.RenewAsync(_held, leaseTime))
                    {
                        expires = asked + leaseTime;
                    }
                    else
                    {
                        leadership.StepDown($"the leader lease (fencing token {_held.Token}) expired and is gone or held by another coordinator");
                        return;
                    }
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    // A leader keeps leading until its lease would have run out; the check above ends it then.
                    LogRedisUnreachable(_held is null ? "standby" : "leader", e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RecoverAsync(CancellationToken ct)
    {
        await Task.Yield();
        try
        {
            var started = time.GetTimestamp();
            var recovered = await scheduler.RecoverAsync(store, ct);
            LogRecovered(recovered, time.GetElapsedTime(started).TotalMilliseconds);
            leadership.Serve();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            leadership.StepDown($"recovering the live runs failed: {e.Message}");
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_held is not { } held || leadership.Phase is not (LeaderPhase.Leading or LeaderPhase.Recovering))
        {
            return;
        }

        await _recovery;
        // What was acknowledged lands before the lease goes, so the next leader recovers it.
        await scheduler.FlushAsync();
        try
        {
            await lease.ReleaseAsync(held);
            LogReleased(held.Token);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogRedisUnreachable("leader releasing its lease", e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Leader election on: advertised as {Address}, lease {LeaseMs} ms, renewed every {RenewMs} ms")]
    private partial void LogStarting(string address, int leaseMs, int renewMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Standing by: {Leader} leads (fencing token {Token})")]
    private partial void LogStandingBy(string leader, long token);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Took over: recovered {Count} live run(s) from the store in {Milliseconds:F0} ms")]
    private partial void LogRecovered(int count, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Released the leader lease (fencing token {Token}): a standby takes over at its next try")]
    private partial void LogReleased(long token);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Leader election ({Role}): Redis did not answer: {Reason}")]
    private partial void LogRedisUnreachable(string role, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Coordinator:Redis is a Redis Cluster: fenced writes need the fence and each run in one script, which a Cluster cannot run. Use a standalone Redis or a primary with replicas behind Sentinel; this coordinator stays a standby")]
    private partial void LogCluster();
}
