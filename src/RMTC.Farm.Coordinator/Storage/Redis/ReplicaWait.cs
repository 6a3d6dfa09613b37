using System.Diagnostics.Metrics;
using System.Globalization;
using RMTC.Farm.Coordinator.Metrics;
using StackExchange.Redis;

namespace RMTC.Farm.Coordinator.Storage.Redis;

/// <summary>
/// The one place a write waits for Redis replicas (<c>WAIT numreplicas timeout</c>). Replication is asynchronous: a
/// write the primary answered is lost if the primary dies before a replica has it and Sentinel promotes that replica.
/// A write counts as stored only once <see cref="MinReplicas"/> replicas hold it, so nothing acknowledged on the
/// strength of it (a result to an agent, a submission) can be lost by a failover.
/// </summary>
/// <remarks>
/// <c>WAIT</c> counts the writes sent earlier on the same connection. StackExchange.Redis sends every command to the
/// primary over one connection, so the <c>WAIT</c> is queued right behind the write it guards, before either answer is
/// awaited: both go to the same server in that order. A failover between them breaks the connection and fails both;
/// the caller writes again (every store write is idempotent). While a <c>WAIT</c> blocks, the commands queued behind it
/// on the shared connection wait too, which is why <see cref="Timeout"/> is short: with replicas connected it returns in
/// about a round trip.
/// </remarks>
/// <param name="minReplicas">Replicas each write must reach; 0 sends no <c>WAIT</c> (a standalone Redis).</param>
/// <param name="timeout">How long one <c>WAIT</c> may block.</param>
/// <param name="meters">
/// Where <c>rmtc_store_unreplicated_writes_total</c> goes (writes that reached too few replicas, each written again), in
/// the farm's meter; null: not counted.
/// </param>
public sealed class ReplicaWait(int minReplicas, TimeSpan timeout, IMeterFactory? meters = null)
{
    private readonly Counter<long>? _short = CreateCounter(meters);

    /// <summary>Replicas each write must reach.</summary>
    public int MinReplicas { get; } = minReplicas;

    /// <summary>How long one <c>WAIT</c> may block.</summary>
    public TimeSpan Timeout { get; } = timeout;

    /// <summary>
    /// Sends <c>WAIT</c> behind <paramref name="write"/>, which must already be sent on <paramref name="db"/> (call the
    /// write, then this, with no await between), and returns the write's result once enough replicas have it. Throws
    /// <see cref="StoreNotReplicatedException"/> when too few do, naming <paramref name="what"/>.
    /// </summary>
    public async Task<T> AfterAsync<T>(IDatabase db, Task<T> write, string what)
    {
        await AfterAsync(db, (Task)write, what);
        return await write;
    }

    /// <inheritdoc cref="AfterAsync{T}(IDatabase, Task{T}, string)"/>
    public async Task AfterAsync(IDatabase db, Task write, string what)
    {
        if (MinReplicas == 0)
        {
            await write;
            return;
        }

        var wait = Send(db);
        try
        {
            await write;
        }
        catch
        {
            // The write failed: its WAIT's answer no longer matters, but its failure must not go unobserved.
            _ = wait.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw;
        }

        Require(await wait, what);
    }

    /// <summary>Sends <c>WAIT</c> now; its answer is how many replicas acknowledged every earlier write of the connection.</summary>
    public async Task<long> Send(IDatabase db) =>
        (long)await db.ExecuteAsync("WAIT", MinReplicas, (long)Timeout.TotalMilliseconds);

    /// <summary>Throws <see cref="StoreNotReplicatedException"/> when <paramref name="reached"/> is below <see cref="MinReplicas"/>.</summary>
    public void Require(long reached, string what)
    {
        if (reached < MinReplicas)
        {
            _short?.Add(1);
            throw new StoreNotReplicatedException(string.Create(CultureInfo.InvariantCulture,
                $"{what} reached {reached} of the {MinReplicas} Redis replica(s) it must reach within {Timeout.TotalMilliseconds:F0} ms (Coordinator:RedisMinReplicas, Coordinator:RedisReplicaTimeoutMs); it is written again until the replicas have it. If no replica is connected, start one or let Sentinel reconfigure one"));
        }
    }

    private static Counter<long>? CreateCounter(IMeterFactory? meters)
    {
        var counter = meters?.Create(FarmMetrics.MeterName).CreateCounter<long>("rmtc_store_unreplicated_writes",
            description: "Store writes that reached fewer Redis replicas than Coordinator:RedisMinReplicas in time; each is written again, and nothing waiting on it is acknowledged meanwhile");
        counter?.Add(0);
        return counter;
    }
}
