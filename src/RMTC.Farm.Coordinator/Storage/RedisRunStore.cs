using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Storage.Redis;
using RMTC.Farm.Core.Lineage;
using StackExchange.Redis;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// The farm's store, in Redis (standalone or Cluster). Keys, all under <c>rmtc:</c>:
/// <list type="bullet">
/// <item><c>rmtc:{run:&lt;id&gt;}:manifest</c>: hash, fields <c>version</c> and either <c>json</c> (the whole document:
/// an ended run, or a manifest written before parts) or the parts of a live run (<see cref="ManifestPartKeys"/>: <c>head</c>,
/// <c>r0</c>, <c>r0.a12</c>, ...), each written when it changed (<see cref="SavePartsAsync"/>).</item>
/// <item><c>rmtc:{run:&lt;id&gt;}:events</c>: list of <see cref="LineageEvent.ToJson"/>, oldest first.</item>
/// <item><c>rmtc:{run:&lt;id&gt;}:derivations</c>: list of <see cref="DerivationRecord.ToJson"/> (exports, inferences).</item>
/// <item><c>rmtc:{run:&lt;id&gt;}:epochs</c>: the highest lease epoch reserved for the run (<see cref="ReserveLeaseEpochsAsync"/>).</item>
/// <item><c>rmtc:runs</c>: set of run ids.</item>
/// <item><c>rmtc:idx:&lt;kind&gt;:&lt;digest&gt;</c>: set of run ids; <c>rmtc:idx:keys</c>: set of those key names.</item>
/// </list>
/// </summary>
/// <remarks>
/// <see cref="SaveAsync(string, string, long, CancellationToken)"/> is an atomic compare-and-set against the stored version, so "a lower or equal version
/// never overwrites" holds across coordinators and restarts: a restarted coordinator must number above every stored
/// version (it uses <see cref="DateTimeOffset.UtcTicks"/>-based versions). Connection and timeout errors
/// (<see cref="RedisConnectionException"/>, <see cref="RedisTimeoutException"/>) propagate: the caller retries, and
/// every write is idempotent. With replicas required (Redis behind Sentinel) every write is followed by a
/// <see cref="ReplicaWait"/>, and one that reached too few replicas throws <see cref="StoreNotReplicatedException"/>
/// (a <see cref="RedisException"/>), retried like an outage.
/// <para>
/// With a <see cref="IStoreFence"/> (several coordinators, <c>Coordinator:Leadership</c>) every write is a script that
/// first checks the fencing token (<see cref="FencedScript"/>), and a refused one throws
/// <see cref="StoreFencedException"/> after telling the fence; without one the writes are exactly as they were.
/// </para>
/// </remarks>
/// <param name="redis">The shared connection.</param>
/// <param name="log">Stale saves, damaged lists, fencing refusals.</param>
/// <param name="fence">The leadership's fencing token; null when one coordinator owns the store.</param>
/// <param name="replicas">
/// How many replicas every write must reach before it counts as stored (<see cref="ReplicaWait"/>); null: none (a
/// standalone Redis).
/// </param>
public sealed partial class RedisRunStore(IConnectionMultiplexer redis, ILogger<RedisRunStore> log, IStoreFence? fence = null, ReplicaWait? replicas = null) : IRunStore
{
    private static readonly string FencedSave = FencedScript.Wrap(SaveManifestScript.Lua);
    private static readonly string FencedSaveParts = FencedScript.Wrap(SaveManifestPartsScript.Lua);
    private static readonly string FencedAppend = FencedScript.Wrap(AppendEventsScript.Lua);
    private static readonly string FencedReserve = FencedScript.Wrap(ReserveEpochsScript.Lua);
    private static readonly string FencedSetAdd = FencedScript.Wrap(FencedScript.SetAdd);
    private static readonly string FencedSetRemove = FencedScript.Wrap(FencedScript.SetRemove);
    private static readonly string FencedDelete = FencedScript.Wrap(FencedScript.Delete);
    private static readonly string FencedListPush = FencedScript.Wrap(FencedScript.ListPush);

    private IDatabase Db => redis.GetDatabase();

    /// <summary>Writes the manifest unless the stored version is greater than or equal to <paramref name="version"/>.</summary>
    public Task SaveAsync(RunManifest manifest, long version, CancellationToken cancellationToken = default) =>
        SaveAsync(manifest.RunId, manifest.ToJson(), version, cancellationToken);

    /// <inheritdoc />
    public async Task SaveAsync(string runId, string manifestJson, long version, CancellationToken cancellationToken = default)
    {
        var key = RedisKeys.Manifest(runId);
        var json = manifestJson;
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        // Listed before written: a crash between leaves a listed id without manifest (skipped by ListAsync), never a
        // manifest that recovery cannot find. The set lives in another Cluster slot, so it cannot join the script.
        await Replicated(db, SetAddAsync(db, RedisKeys.Runs, [runId], "the run list"), "the run list");
        var written = (long)await Replicated(db, ScriptAsync(db, SaveManifestScript.Lua, FencedSave, [key], [version.ToString(CultureInfo.InvariantCulture), json], $"the manifest of run {runId}"), $"the manifest of run {runId}");
        if (written == 0)
        {
            LogStaleSave(runId, version);
        }
    }

    /// <summary>The stored manifest, or null (also for an id no run can have).</summary>
    public async Task<RunManifest?> GetAsync(string runId, CancellationToken cancellationToken = default)
    {
        if (!FileRunStore.IsRunId(runId))
        {
            return null;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var key = RedisKeys.Manifest(runId);
        return ParseManifest(key, await Db.HashGetAllAsync(key));
    }

    /// <inheritdoc />
    public async Task<ManifestWriteResult> SavePartsAsync(string runId, ManifestParts parts, CancellationToken cancellationToken = default)
    {
        var key = RedisKeys.Manifest(runId);
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        if (parts.Base is null)
        {
            // As for a whole document: listed before written (a write with a base follows one without).
            await Replicated(db, SetAddAsync(db, RedisKeys.Runs, [runId], "the run list"), "the run list");
        }

        var args = new RedisValue[3 + parts.Removed.Count + (2 * parts.Written.Count)];
        args[0] = parts.Version.ToString(CultureInfo.InvariantCulture);
        args[1] = parts.Base is { } b ? b.ToString(CultureInfo.InvariantCulture) : "";
        args[2] = parts.Removed.Count;
        var at = 3;
        foreach (var removed in parts.Removed)
        {
            args[at++] = removed;
        }

        foreach (var (field, json) in parts.Written)
        {
            args[at++] = field;
            args[at++] = json;
        }

        var reply = (long)await Replicated(db, ScriptAsync(db, SaveManifestPartsScript.Lua, FencedSaveParts, [key], args, $"the manifest of run {runId}"), $"the manifest of run {runId}");
        switch (reply)
        {
            case 1 or 2:
                return ManifestWriteResult.Written;
            case 0:
                LogStaleSave(runId, parts.Version);
                return ManifestWriteResult.Stale;
            default:
                return ManifestWriteResult.BaseMissing;
        }
    }

    /// <summary>Every stored manifest, ordered by run id (ordinal).</summary>
    public async Task<IReadOnlyList<RunManifest>> ListAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        var ids = (await db.SetMembersAsync(RedisKeys.Runs)).Select(v => (string)v!).Order(StringComparer.Ordinal).ToList();
        // Pipelined: every HGETALL is sent before the first answer is awaited.
        var gets = ids.Select(id => (Id: id, Fields: db.HashGetAllAsync(RedisKeys.Manifest(id)))).ToList();
        await Task.WhenAll(gets.Select(g => g.Fields));
        var result = new List<RunManifest>(gets.Count);
        foreach (var (id, get) in gets)
        {
            if (ParseManifest(RedisKeys.Manifest(id), await get) is not { } manifest)
            {
                // Listed by a save that crashed before its manifest landed; the next save of the run fills it in.
                LogListedWithoutManifest(id);
                continue;
            }

            result.Add(manifest);
        }

        return result;
    }

    public async Task AppendEventsAsync(string runId, IReadOnlyList<LineageEvent> events, CancellationToken cancellationToken = default)
    {
        var key = RedisKeys.Events(runId);
        if (events.Count == 0)
        {
            return;
        }

        cancellationToken.ThrowIfCancellationRequested();
        // One script: the batch lands whole and contiguous, and a retry after a lost reply adds nothing twice.
        var args = new RedisValue[events.Count + 1];
        args[0] = events[0].Seq;
        for (var i = 0; i < events.Count; i++)
        {
            args[i + 1] = events[i].ToJson();
        }

        try
        {
            var db = Db;
            await Replicated(db, ScriptAsync(db, AppendEventsScript.Lua, FencedAppend, [key], args, $"events of run {runId}"), $"events of run {runId}");
        }
        catch (RedisServerException e) when (e.Message.Contains("RMTCGAP", StringComparison.Ordinal) && replicas is { MinReplicas: > 0 })
        {
            // Behind Sentinel a gap is what a server that is not (or no longer) the primary shows: an old primary
            // restarted before Sentinel made it a replica. Every write reached a replica before it counted, so the
            // primary has the entries: write again until it answers.
            throw new RedisException($"the event log of run {runId} on the server that answered is missing entries ({e.Message.Replace("RMTCGAP ", "", StringComparison.Ordinal)}); writing again until the primary Sentinel names answers", e);
        }
        catch (RedisServerException e) when (e.Message.Contains("RMTCGAP", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"the event log of run {runId} in Redis is missing entries: {e.Message.Replace("RMTCGAP ", "", StringComparison.Ordinal)} (lost writes; `rmtc lineage verify` will report the gap)");
        }
    }

    /// <summary>The run's events in order; an element that is not an event throws <see cref="InvalidDataException"/>.</summary>
    public async Task<IReadOnlyList<LineageEvent>> ReadEventsAsync(string runId, CancellationToken cancellationToken = default)
    {
        if (!FileRunStore.IsRunId(runId))
        {
            return [];
        }

        cancellationToken.ThrowIfCancellationRequested();
        var key = RedisKeys.Events(runId);
        var values = await Db.ListRangeAsync(key, 0, -1);
        var events = new List<LineageEvent>(values.Length);
        for (var i = 0; i < values.Length; i++)
        {
            try
            {
                events.Add(LineageEvent.FromJson(values[i]!));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"run {runId}: element {i} of Redis list {key} is not a lineage event ({e.Message}); the log is damaged", e);
            }
        }

        return events;
    }

    public async Task IndexAsync(IReadOnlyList<LineageIndexEntry> entries, CancellationToken cancellationToken = default)
    {
        var groups = entries
            .GroupBy(e => RedisKeys.Index(e.Kind, e.Digest), StringComparer.Ordinal)
            .Select(g => (Key: g.Key, Ids: g.Select(e => (RedisValue)RedisKeys.RunId(e.RunId)).Distinct().ToArray()))
            .ToList();
        if (groups.Count == 0)
        {
            return;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        // Pipelined, key names first: an index set is never created without being registered for ClearIndexAsync.
        var sends = new List<Task>(groups.Count + 1)
        {
            SetAddAsync(db, RedisKeys.IndexKeys, groups.Select(g => (RedisValue)g.Key).ToArray(), "the index key list"),
        };
        sends.AddRange(groups.Select(g => SetAddAsync(db, g.Key, g.Ids, "a reverse index")));
        await Replicated(db, Task.WhenAll(sends), "reverse index entries");
    }

    public async Task<IReadOnlyList<string>> LookupAsync(string kind, string digest, CancellationToken cancellationToken = default)
    {
        var key = RedisKeys.Index(kind, digest);
        cancellationToken.ThrowIfCancellationRequested();
        var ids = await Db.SetMembersAsync(key);
        return ids.Select(v => (string)v!).Order(StringComparer.Ordinal).ToList();
    }

    public async Task ClearIndexAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        var keys = await db.SetMembersAsync(RedisKeys.IndexKeys);
        // One DEL per key (they sit in different Cluster slots), pipelined; then unregister exactly those names, so a
        // key registered meanwhile by a concurrent IndexAsync stays registered.
        var sends = keys.Select(k => fence is null ? (Task)db.KeyDeleteAsync((string)k!) : FencedAsync(db, FencedDelete, [(string)k!], [], "a reverse index")).ToList();
        if (keys.Length > 0)
        {
            sends.Add(fence is null ? (Task)db.SetRemoveAsync(RedisKeys.IndexKeys, keys) : FencedAsync(db, FencedSetRemove, [RedisKeys.IndexKeys], keys, "the index key list"));
        }

        await Replicated(db, Task.WhenAll(sends), "the cleared reverse indexes");
        LogIndexCleared(keys.Length);
    }

    public async Task AppendDerivationAsync(string runId, DerivationRecord record, CancellationToken cancellationToken = default)
    {
        var key = RedisKeys.Derivations(runId);
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        var push = fence is null ? (Task)db.ListRightPushAsync(key, record.ToJson()) : FencedAsync(db, FencedListPush, [key], [record.ToJson()], $"a derivation of run {runId}");
        await Replicated(db, push, $"a derivation of run {runId}");
    }

    /// <summary>The run's derivations in order; an element that is not a record throws <see cref="InvalidDataException"/>.</summary>
    public async Task<IReadOnlyList<DerivationRecord>> ReadDerivationsAsync(string runId, CancellationToken cancellationToken = default)
    {
        if (!FileRunStore.IsRunId(runId))
        {
            return [];
        }

        cancellationToken.ThrowIfCancellationRequested();
        var key = RedisKeys.Derivations(runId);
        var values = await Db.ListRangeAsync(key, 0, -1);
        var records = new List<DerivationRecord>(values.Length);
        for (var i = 0; i < values.Length; i++)
        {
            try
            {
                records.Add(DerivationRecord.FromJson(values[i]!));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"run {runId}: element {i} of Redis list {key} is not a derivation record ({e.Message})", e);
            }
        }

        return records;
    }

    /// <summary>
    /// One script (atomic). Acknowledged means in Redis's append-only file as far as its <c>appendfsync</c> setting
    /// promises: <c>always</c> survives any crash, <c>everysec</c> a crash of redis-server but not of its host; and, with
    /// replicas required, on that many replicas too (a failover keeps it).
    /// </summary>
    public async Task<LeaseEpochBlock> ReserveLeaseEpochsAsync(string runId, long floor, int count, CancellationToken cancellationToken = default)
    {
        LeaseEpochBlock.CheckRequest(floor, count);
        var key = RedisKeys.Epochs(runId);
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        var reply = (RedisResult[])(await Replicated(db, ScriptAsync(db, ReserveEpochsScript.Lua, FencedReserve, [key], [floor, count], $"lease epochs of run {runId}"), $"lease epochs of run {runId}"))!;
        var block = new LeaseEpochBlock((long)reply[0], (long)reply[1]);
        return block.Through <= LeaseEpochBlock.MaxEpoch && block.Through > block.After
            ? block
            : throw new InvalidDataException($"run {runId}: Redis key {key} holds a lease epoch reservation out of range ({block.After}..{block.Through}); the store is damaged");
    }

    /// <summary>The write (already sent) once enough replicas hold it: the one point where writes wait for replication.</summary>
    private Task<T> Replicated<T>(IDatabase db, Task<T> write, string what) => replicas is null ? write : replicas.AfterAsync(db, write, what);

    private Task Replicated(IDatabase db, Task write, string what) => replicas is null ? write : replicas.AfterAsync(db, write, what);

    private Task SetAddAsync(IDatabase db, RedisKey key, RedisValue[] members, string what) =>
        fence is null ? (Task)db.SetAddAsync(key, members) : FencedAsync(db, FencedSetAdd, [key], members, what);

    private Task<RedisResult> ScriptAsync(IDatabase db, string lua, string fenced, RedisKey[] keys, RedisValue[] args, string what) =>
        fence is null ? db.ScriptEvaluateAsync(lua, keys, args) : FencedAsync(db, fenced, keys, args, what);

    /// <summary>Runs a <see cref="FencedScript.Wrap"/>ped script with this coordinator's token; a refusal steps it down.</summary>
    private async Task<RedisResult> FencedAsync(IDatabase db, string fenced, RedisKey[] keys, RedisValue[] args, string what)
    {
        var token = fence!.Token;
        if (token <= 0)
        {
            // A standby, or a leader that stepped down: nothing it knows may reach the store.
            throw new StoreFencedException($"{what} not written: this coordinator does not hold the leader lease");
        }

        try
        {
            return await db.ScriptEvaluateAsync(fenced, [RedisKeys.Fence, .. keys], [token, .. args]);
        }
        catch (RedisServerException e) when (e.Message.Contains(FencedScript.Refusal, StringComparison.Ordinal))
        {
            var parts = e.Message[(e.Message.IndexOf(FencedScript.Refusal, StringComparison.Ordinal) + FencedScript.Refusal.Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var newer = parts.Length > 0 && long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
            LogFenced(what, token, newer);
            fence.Refused(newer, what);
            throw new StoreFencedException($"{what} not written: fencing token {token} is stale, another coordinator took the leader lease with token {newer}");
        }
    }

    /// <summary>The manifest a hash holds: its whole document, or its parts assembled; null when it holds neither.</summary>
    private static RunManifest? ParseManifest(RedisKey key, HashEntry[] fields)
    {
        string? json = null;
        var parts = new List<KeyValuePair<string, string>>(fields.Length);
        foreach (var field in fields)
        {
            var name = (string)field.Name!;
            if (name == "json")
            {
                json = field.Value!;
            }
            else if (name != "version")
            {
                parts.Add(new(name, (string)field.Value!));
            }
        }

        if (json is not null)
        {
            return ParseManifest(key, json);
        }

        return parts.Count == 0 ? null : ManifestAssembly.Assemble(parts, $"Redis hash {key}");
    }

    private static RunManifest ParseManifest(RedisKey key, string json)
    {
        try
        {
            return RunManifest.FromJson(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Redis hash {key} field 'json' is not a run manifest: {e.Message}", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Run {RunId}: manifest version {Version} not saved, the stored one is newer or the same")]
    private partial void LogStaleSave(string runId, long version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} is listed in rmtc:runs but has no manifest (a save was interrupted); skipped")]
    private partial void LogListedWithoutManifest(string runId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Redis refused a write of {What}: this coordinator's fencing token {Token} is older than {Newer}, another coordinator leads")]
    private partial void LogFenced(string what, long token, long newer);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reverse indexes cleared: {Keys} keys deleted")]
    private partial void LogIndexCleared(int keys);
}
