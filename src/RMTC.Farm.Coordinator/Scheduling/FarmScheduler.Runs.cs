using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Planning;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>Runs: submission, lookups, cancellation, and the start of each round.</summary>
public sealed partial class FarmScheduler
{
    /// <summary>
    /// Schedules checked runs (<see cref="Submission.SubmissionPipeline"/> prepares them), each starting with its
    /// preparation task (initial weights, built by an agent). All or none: a run whose OpenCue job name is already
    /// pending is refused, as Cuebot refuses it, so a name finds one pending job; <see cref="JobSpecException"/> says so.
    /// </summary>
    public IReadOnlyList<RunStatus> Enqueue(IReadOnlyList<PreparedRun> runs, string sourceName)
    {
        lock (_gate)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var origin in runs.Select(r => r.Spec.OpenCue).OfType<OpenCueOrigin>())
            {
                if (!names.Add(origin.JobName) || FindPendingByOpenCueNameLocked(origin.JobName) is not null)
                {
                    throw new JobSpecException([$"{sourceName}: the job {origin.JobName} is already pending: wait for it to finish, kill it, or give the new job another name"]);
                }
            }

            return runs.Select(r => EnqueueLocked(r, null)).ToList();
        }
    }

    /// <summary>Schedules a checked run; with <paramref name="initial"/> (weights already stored) round 1 starts at once. Caller holds the lock.</summary>
    private RunStatus EnqueueLocked(PreparedRun prepared, (string Digest, long Bytes, SafetensorsHeader Template, string TensorsDigest)? initial)
    {
        var (manifest, spec, plan, assets, evaluationIndices) = prepared;
        var run = new RunState
        {
            Manifest = manifest,
            Spec = spec,
            Plan = plan,
            // Known once the preparation's weights are stored.
            Template = new SafetensorsHeader { Tensors = [], Metadata = new Dictionary<string, string>(), DataStart = 8 },
            Merge = NewMerge(manifest.RunId, spec),
            SubmitOrder = ++_submitCounter,
            Paused = spec.OpenCue?.Paused ?? false,
            EvaluationIndices = evaluationIndices,
            // The first block goes out at once: the journal reserves it ahead of the run's first manifest.
            EpochsReserved = EpochBlock,
            PendingEpochReservation = EpochBlock,
        };
        _runs[run.Id] = run;
        _activeRuns[run.DispatchOrder] = run;
        run.PendingIndex.AddRange(LineageIndexer.EntriesOf(manifest, assets));
        LogRunSubmitted(run.Id, spec.Recipe, spec.Shards, spec.Rounds, manifest.Dataset.Name, manifest.Dataset.Digest);
        EventLocked(run, "submitted", $"run {run.Id}: {spec.Recipe} on {manifest.Dataset.Name} ({manifest.Dataset.Samples} samples), {spec.Shards} {spec.EffectiveSharding} shards x {spec.Rounds} rounds, merge {spec.Merge.Strategy}{(manifest.Evaluation is { } ev ? $", evaluated on {ev.Split} ({ev.Samples} samples)" : "")}",
            facts: new JsonObject
            {
                ["dataset"] = manifest.Dataset.Digest,
                ["assets"] = manifest.Dataset.AssetsDigest,
                ["recipe"] = spec.Recipe,
                ["submittedBy"] = manifest.SubmittedBy,
            });
        if (initial is { } weights)
        {
            StartPreparedLocked(run, weights.Digest, weights.Bytes, weights.Template, weights.TensorsDigest, "");
        }
        else
        {
            QueuePrepareLocked(run);
            SaveLocked(run);
        }

        DispatchLocked();
        return StatusLocked(run);
    }

    private void StartRoundLocked(RunState run, int round, string inputDigest, long inputBytes)
    {
        var previous = run.Shards;
        run.Round = round;
        run.GlobalDigest = inputDigest;
        run.GlobalBytes = inputBytes;
        run.Merge.StartRound(run.Template);
        run.LossSum = 0;
        run.SamplesMerged = 0;
        var record = new RoundRecord
        {
            Round = round,
            InputDigest = inputDigest,
            StartedAt = Now,
            MergeStrategy = run.Spec.Merge.Strategy,
        };
        run.Shards = new ShardState[run.Spec.Shards];
        for (var i = 0; i < run.Shards.Length; i++)
        {
            // Epochs keep rising across rounds, so a token is never reused for the same shard.
            run.Shards[i] = new ShardState { Index = i, Tally = run.Tally, QueuedAt = Now, LeaseEpoch = previous.Length > i ? previous[i].LeaseEpoch : 0 };
            record.Shards.Add(new ShardRecord
            {
                Shard = i,
                Samples = RoundSlices.Length(run.Plan[i].Length, round, run.Spec.Local.EffectiveRoundsPerEpoch),
                Seed = SeedMixer.Derive(run.Spec.Seed, round, i),
            });
        }

        run.ResetReady();

        run.Manifest.Rounds.Add(record);
        EventLocked(run, "round-started", $"round {round}/{run.Spec.Rounds} started from {Short(inputDigest)}");
        SaveLocked(run);
    }

    /// <summary>A run by id or unique id prefix, as it stands; null when unknown.</summary>
    public RunStatus? GetJob(string idOrPrefix)
    {
        lock (_gate)
        {
            var (live, ended) = FindLocked(idOrPrefix);
            return live is not null ? StatusLocked(live) : ended?.Status;
        }
    }

    /// <summary>All runs, newest first.</summary>
    public IReadOnlyList<RunStatus> ListJobs()
    {
        lock (_gate)
        {
            return _runs.Values.Select(r => (r.SubmitOrder, Status: StatusLocked(r)))
                .Concat(_ended.All.Select(r => (r.SubmitOrder, r.Status)))
                .OrderByDescending(r => r.SubmitOrder)
                .Select(r => r.Status)
                .ToList();
        }
    }

    /// <summary>
    /// The run's manifest as it stands (a copy), or null. Waits for the store when the run has ended and its manifest is
    /// not among the few kept: servers call <see cref="GetManifestAsync"/>.
    /// </summary>
    public RunManifest? GetManifest(string idOrPrefix) => GetManifestAsync(idOrPrefix).GetAwaiter().GetResult();

    /// <summary>The run's events (history then live), or null when unknown.</summary>
    /// <param name="idOrPrefix">Run id or a unique prefix.</param>
    /// <param name="afterSeq">Resume after the event with this seq (0: from the start).</param>
    /// <param name="afterHash">That event's hash (see <see cref="RunEventLog.SubscribeAsync"/>).</param>
    /// <param name="cancellationToken">Ends the stream.</param>
    public IAsyncEnumerable<RunEvent>? Watch(string idOrPrefix, long afterSeq, string afterHash, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var (live, ended) = FindLocked(idOrPrefix);
            return (live?.Events ?? ended?.Events)?.SubscribeAsync(afterSeq, afterHash, cancellationToken);
        }
    }

    /// <summary>Cancels a run: its queued shards are dropped, running attempts are told to stop.</summary>
    public RunStatus? Cancel(string idOrPrefix, string reason)
    {
        lock (_gate)
        {
            var (run, ended) = FindLocked(idOrPrefix);
            if (run is null)
            {
                return ended?.Status;
            }

            FinishRunLocked(run, RunStates.Cancelled, string.IsNullOrWhiteSpace(reason) ? "cancelled by request" : reason);
            return StatusLocked(run);
        }
    }

    /// <summary>
    /// Completes once the run's first manifest is in the store, from which a restarted coordinator recovers it: the wire
    /// acknowledges a submission only then, so nothing acknowledged is lost to a crash of the coordinator or the store.
    /// Waits through a store outage (the journal retries); ends early only with <paramref name="cancellationToken"/> or
    /// when the coordinator stops.
    /// </summary>
    public Task WhenRecordedAsync(string runId, CancellationToken cancellationToken)
    {
        Task? stored;
        lock (_gate)
        {
            stored = _runs.TryGetValue(runId, out var run) ? run.Journal.Stored.Task : _ended.TryGet(runId, out var ended) ? ended.Stored : null;
        }

        return stored is null ? Task.CompletedTask : stored.WaitAsync(cancellationToken);
    }

    /// <summary>The id of the run <paramref name="idOrPrefix"/> names (itself, or the one run it is a prefix of), or null.</summary>
    /// <remarks>Every stored run is held here after recovery, so the lineage store never has to be listed to resolve a prefix.</remarks>
    public string? ResolveRunId(string idOrPrefix)
    {
        lock (_gate)
        {
            var (live, ended) = FindLocked(idOrPrefix);
            return live?.Id ?? ended?.Id;
        }
    }

    private static string Short(string digest) => digest.Length > 12 ? "sha256:" + digest[..12] : digest;

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} submitted: {Recipe}, {Shards} shards x {Rounds} rounds on dataset {Dataset} ({DatasetDigest})")]
    private partial void LogRunSubmitted(string runId, string recipe, int shards, int rounds, string dataset, string datasetDigest);
}
