using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// What of one run's manifest the store holds, so that each journal write carries only what changed since the last one
/// (<see cref="ManifestPartKeys"/>), and the scheduler's lock is held for what changed, not for the whole run.
/// </summary>
/// <remarks>
/// Lists only grow at their end (rounds, tasks, a round's shards, attempts and merged results), so new entries are found
/// by count. A record is written when it appears and again when it changes, which for an attempt is when it ends: an
/// attempt is watched while it runs (so the cost follows the attempts in flight) and settles once ended. A round's or
/// task's own fields are serialised while it is open (a round until merged and evaluated, a task until ended) and
/// written when they differ from the last written. The manifest's head is small and compared the same way. The one
/// change to settled records, a wrangler's retry of a merged shard, is announced with <see cref="Touch"/>. An ended run
/// is written whole, so its sealed manifest is the document in memory byte for byte. Used under the scheduler's lock
/// (<see cref="Touch"/>, <see cref="Capture"/>) and by the run's single journal writer (<see cref="Landed"/>).
/// </remarks>
internal sealed class ManifestTracker
{
    private bool _whole = true;
    private long _base;
    private string? _head;
    private readonly List<ListTrack> _rounds = [];
    private readonly List<ListTrack> _tasks = [];
    private readonly List<Watched> _running = [];
    private readonly List<(int Round, int Shard)> _touched = [];

    /// <summary>Announces a change to shard <paramref name="shard"/> of round <paramref name="round"/> (0-based list position) that ended records do not show: its record, attempts and the round's merged results are written again.</summary>
    public void Touch(int round, int shard) => _touched.Add((round, shard));

    /// <summary>
    /// What the next write of <paramref name="manifest"/> at <paramref name="version"/> carries. Caller holds the
    /// scheduler's lock. <paramref name="whole"/> asks for every part (the store lost the base).
    /// </summary>
    public ManifestCapture Capture(RunManifest manifest, long version, bool whole, bool expect)
    {
        if (RunStates.IsFinal(manifest.State))
        {
            // Written whole once, when the run ends: any later write of it starts afresh.
            Reset();
            var json = manifest.ToJson();
            return new ManifestCapture(version, null) { Whole = json, Expected = expect ? json : null };
        }

        if (whole || _whole)
        {
            Reset();
        }

        var capture = new ManifestCapture(version, _whole ? null : _base) { Expected = expect ? manifest.ToJson() : null };
        var head = ManifestPartJson.Head(manifest);
        if (head != _head)
        {
            capture.Serialised(ManifestPartKeys.Head, head);
            _head = head;
        }

        for (var r = 0; r < manifest.Rounds.Count; r++)
        {
            CaptureRound(capture, manifest, r);
        }

        foreach (var (r, shard) in _touched)
        {
            CaptureTouched(capture, manifest, r, shard);
        }

        _touched.Clear();
        for (var t = 0; t < (manifest.Tasks?.Count ?? 0); t++)
        {
            CaptureTask(capture, manifest.Tasks![t], t);
        }

        CaptureEnded(capture, manifest);
        return capture;
    }

    /// <summary>How the write of <paramref name="capture"/> ended: anything but landing makes the next write whole.</summary>
    public void Landed(ManifestCapture capture, ManifestWriteResult result)
    {
        if (result == ManifestWriteResult.Written && capture.Whole is null)
        {
            _whole = false;
            _base = capture.Version;
        }
        else
        {
            _whole = true;
        }
    }

    private void Reset()
    {
        _whole = true;
        _head = null;
        _rounds.Clear();
        _tasks.Clear();
        _running.Clear();
        _touched.Clear();
    }

    private void CaptureRound(ManifestCapture capture, RunManifest manifest, int r)
    {
        var round = manifest.Rounds[r];
        if (r == _rounds.Count)
        {
            _rounds.Add(new ListTrack());
        }

        var track = _rounds[r];
        if (!track.Settled)
        {
            var own = ManifestPartJson.Round(round);
            if (own != track.Own)
            {
                capture.Serialised(ManifestPartKeys.Round(r), own);
                track.Own = own;
            }

            // Merged and evaluated (or never to be): nothing else changes a round's own fields.
            track.Settled = round.OutputDigest is not null && (round.Evaluation is not null || manifest.Evaluation is null);
        }

        for (; track.Shards < round.Shards.Count; track.Shards++)
        {
            capture.Record(ManifestPartKeys.Shard(r, track.Shards), round.Shards[track.Shards].Copy());
        }

        for (; track.Attempts < round.Attempts.Count; track.Attempts++)
        {
            var attempt = round.Attempts[track.Attempts];
            capture.Record(ManifestPartKeys.Attempt(r, track.Attempts), attempt.Copy());
            if (attempt.Outcome == AttemptOutcomes.Running)
            {
                _running.Add(new Watched(r, track.Attempts, attempt, Task: false));
            }
        }

        if (round.MergedResults.Count < track.Merged)
        {
            // Only a retry takes a result out, and it touches its shard; a shorter list is rewritten all the same.
            RewriteMerged(capture, round, r, track);
        }

        for (; track.Merged < round.MergedResults.Count; track.Merged++)
        {
            capture.Serialised(ManifestPartKeys.Merged(r, track.Merged), ManifestPartJson.Digest(round.MergedResults[track.Merged]));
        }
    }

    private void CaptureTouched(ManifestCapture capture, RunManifest manifest, int r, int shard)
    {
        if (r >= manifest.Rounds.Count || r >= _rounds.Count)
        {
            return;
        }

        var round = manifest.Rounds[r];
        if (shard >= 0 && shard < round.Shards.Count)
        {
            capture.Record(ManifestPartKeys.Shard(r, shard), round.Shards[shard].Copy());
        }

        for (var i = 0; i < round.Attempts.Count; i++)
        {
            if (round.Attempts[i].Shard == shard)
            {
                capture.Record(ManifestPartKeys.Attempt(r, i), round.Attempts[i].Copy());
            }
        }

        RewriteMerged(capture, round, r, _rounds[r]);
    }

    private static void RewriteMerged(ManifestCapture capture, RoundRecord round, int r, ListTrack track)
    {
        for (var i = round.MergedResults.Count; i < track.Merged; i++)
        {
            capture.Removed(ManifestPartKeys.Merged(r, i));
        }

        for (var i = 0; i < round.MergedResults.Count; i++)
        {
            capture.Serialised(ManifestPartKeys.Merged(r, i), ManifestPartJson.Digest(round.MergedResults[i]));
        }

        track.Merged = round.MergedResults.Count;
    }

    private void CaptureTask(ManifestCapture capture, TaskRecord task, int t)
    {
        if (t == _tasks.Count)
        {
            _tasks.Add(new ListTrack());
        }

        var track = _tasks[t];
        if (!track.Settled)
        {
            var own = ManifestPartJson.Task(task);
            if (own != track.Own)
            {
                capture.Serialised(ManifestPartKeys.Task(t), own);
                track.Own = own;
            }

            track.Settled = task.EndedAt is not null;
        }

        for (; track.Attempts < task.Attempts.Count; track.Attempts++)
        {
            var attempt = task.Attempts[track.Attempts];
            capture.Record(ManifestPartKeys.TaskAttempt(t, track.Attempts), attempt.Copy());
            if (attempt.Outcome == AttemptOutcomes.Running)
            {
                _running.Add(new Watched(t, track.Attempts, attempt, Task: true));
            }
        }
    }

    /// <summary>Writes the watched attempts that ended (with their shard's record, which a result changes) and stops watching them.</summary>
    private void CaptureEnded(ManifestCapture capture, RunManifest manifest)
    {
        for (var i = _running.Count - 1; i >= 0; i--)
        {
            var (owner, position, attempt, task) = _running[i];
            if (attempt.Outcome == AttemptOutcomes.Running)
            {
                continue;
            }

            if (task)
            {
                capture.Record(ManifestPartKeys.TaskAttempt(owner, position), attempt.Copy());
            }
            else
            {
                capture.Record(ManifestPartKeys.Attempt(owner, position), attempt.Copy());
                var shards = manifest.Rounds[owner].Shards;
                if (attempt.Shard >= 0 && attempt.Shard < shards.Count)
                {
                    capture.Record(ManifestPartKeys.Shard(owner, attempt.Shard), shards[attempt.Shard].Copy());
                }
            }

            _running[i] = _running[^1];
            _running.RemoveAt(_running.Count - 1);
        }
    }

    /// <summary>How much of one round's (or task's) lists the store holds, and its own fields as last written.</summary>
    private sealed class ListTrack
    {
        public string? Own { get; set; }
        public bool Settled { get; set; }
        public int Shards { get; set; }
        public int Attempts { get; set; }
        public int Merged { get; set; }
    }

    /// <summary>A running attempt: round (or task) <paramref name="Owner"/>'s attempt at list position <paramref name="Position"/>.</summary>
    private readonly record struct Watched(int Owner, int Position, AttemptRecord Attempt, bool Task);
}
