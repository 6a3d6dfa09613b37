using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>
/// Lease epochs that are never granted twice, whatever crashed and in what order.
/// </summary>
/// <remarks>
/// A lease reaches its agent at once, but its record reaches the store later (the journal writes off the lock, and
/// retries while the store is down). A coordinator that dies before the record lands, say while Redis is away, used to
/// come back with the epochs of the stored attempts and grant the lost epochs again. So epochs are reserved in the
/// store before they go out, in blocks of <see cref="EpochBlock"/> per run:
/// <list type="bullet">
/// <item>A new run may grant its first block at once: the journal reserves it before it writes anything else of the
/// run, so a stored manifest (the only thing recovery starts from) implies its reservation.</item>
/// <item>Later blocks are reserved directly, half a block ahead; a shard whose next epoch is not reserved yet waits
/// for the reservation (during a store outage, once the block is spent, shards wait rather than go out unreserved).</item>
/// <item>Recovery reserves a fresh block above the stored reservation before the run takes part in dispatch, and lifts
/// every shard to its start: anything a dead coordinator may have granted lies below.</item>
/// </list>
/// Epochs rise per shard as before (a shard's next lease takes its last epoch plus one), all under the run's reservation.
/// The reservation is as durable as the store: the file store flushes it to disk; Redis as its <c>appendfsync</c>
/// promises (<c>always</c> survives any crash, <c>everysec</c> a crash of redis-server but not of its host).
/// </remarks>
public sealed partial class FarmScheduler
{
    /// <summary>Epochs reserved per store call, per run. A shard takes one per lease, so a block lasts dozens of rounds.</summary>
    internal const int EpochBlock = 64;

    /// <summary>True when the shard's next epoch is reserved; otherwise starts a reservation and the shard waits for it. Caller holds the lock.</summary>
    private bool EpochReadyLocked(RunState run, ShardState shard)
    {
        if (shard.LeaseEpoch < run.EpochsReserved)
        {
            return true;
        }

        RefillEpochsLocked(run);
        return false;
    }

    /// <summary>Takes the shard's next epoch (reserved: see <see cref="EpochReadyLocked"/>) and keeps half a block in reserve. Caller holds the lock.</summary>
    private long TakeEpochLocked(RunState run, ShardState shard)
    {
        if (shard.LeaseEpoch >= run.EpochsReserved)
        {
            throw new InvalidOperationException($"run {run.Id} shard {shard.Index}: epoch {shard.LeaseEpoch + 1} is not reserved (reserved through {run.EpochsReserved})");
        }

        shard.LeaseEpoch++;
        run.EpochHighWater = Math.Max(run.EpochHighWater, shard.LeaseEpoch);
        if (run.EpochsReserved - run.EpochHighWater < EpochBlock / 2)
        {
            RefillEpochsLocked(run);
        }

        return shard.LeaseEpoch;
    }

    /// <summary>Reserves the run's next block in the background (one at a time); dispatch runs again when it lands. Caller holds the lock.</summary>
    private void RefillEpochsLocked(RunState run)
    {
        if (run.EpochsRefilling || run.IsFinal)
        {
            return;
        }

        run.EpochsRefilling = true;
        _ = RefillEpochsAsync(run, Math.Max(run.EpochsReserved, run.EpochHighWater));
    }

    private async Task RefillEpochsAsync(RunState run, long floor)
    {
        try
        {
            var block = await _journal.ReserveLeaseEpochsAsync(run.Id, floor, EpochBlock);
            lock (_gate)
            {
                run.EpochsRefilling = false;
                run.EpochsReserved = Math.Max(run.EpochsReserved, block.Through);
                DispatchLocked();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ArgumentException or InvalidDataException or System.Text.Json.JsonException)
        {
            // Shutdown, or a store that refuses the reservation (logged by the journal): no epoch goes out unreserved.
            lock (_gate)
            {
                run.EpochsRefilling = false;
                if (e is not OperationCanceledException)
                {
                    FinishRunLocked(run, RunStates.Failed, $"lease epochs could not be reserved in the store: {e.Message}");
                }
            }
        }
    }

    /// <summary>
    /// A recovered run's first block, reserved before it is dispatched: above the stored reservation and above every
    /// epoch recorded in its manifest and event log (a store written before reservations existed has none).
    /// </summary>
    private async Task<LeaseEpochBlock> ReserveRecoveredEpochsAsync(RunManifest manifest, IReadOnlyList<LineageEvent> events)
    {
        var recorded = manifest.Rounds.SelectMany(r => r.Attempts).Concat((manifest.Tasks ?? []).SelectMany(t => t.Attempts))
            .Select(a => a.LeaseEpoch).DefaultIfEmpty(0).Max();
        foreach (var e in events)
        {
            if (e.Data["epoch"] is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<long>(out var epoch))
            {
                recorded = Math.Max(recorded, epoch);
            }
        }

        var block = await _journal.ReserveLeaseEpochsAsync(manifest.RunId, recorded, EpochBlock);
        LogEpochsRecovered(manifest.RunId, block.After, block.Through);
        return block;
    }

    /// <summary>Starts every shard of a recovered run above <paramref name="block"/>'s floor. Caller holds the lock.</summary>
    private static void ApplyRecoveredEpochsLocked(RunState run, LeaseEpochBlock block)
    {
        foreach (var shard in run.Shards)
        {
            shard.LeaseEpoch = Math.Max(shard.LeaseEpoch, block.After);
        }

        run.EpochHighWater = Math.Max(run.EpochHighWater, block.After);
        run.EpochsReserved = block.Through;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: lease epochs continue above {After} (reserved through {Through}): nothing granted before the restart can be granted again")]
    private partial void LogEpochsRecovered(string runId, long after, long through);
}
