using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// What the soak measures about losing a coordinator or the Redis primary: takeover times (leader lost → the standby
/// serving), Sentinel's promotions, results whose upload agents had to retry, and the check that nothing acknowledged
/// to an agent is missing from the manifest Redis holds.
/// </summary>
internal sealed partial class SoakFailoverFigures
{
    private readonly Dictionary<string, List<double>> _takeovers = [];
    private readonly List<double> _promotions = [];
    private readonly List<string> _stepDowns = [];
    private readonly Dictionary<string, int> _retried = [];
    private readonly StringBuilder _run = new();
    private int _acknowledged;
    private int _duplicates;
    private int _retriedTotal;
    private int _byRestarted;

    /// <summary>This run's figures for its line (cleared once read).</summary>
    public string LastRun
    {
        get
        {
            var text = _run.ToString();
            _run.Clear();
            return text;
        }
    }

    /// <summary>The leader was lost (<paramref name="fault"/>) and the standby served <paramref name="after"/> later.</summary>
    /// <param name="fault">How the leader was lost.</param>
    /// <param name="after">From the loss to a coordinator serving again.</param>
    /// <param name="restarted">Whether the one now serving is the lost one started again (it can win the lease: it is back within 1 s).</param>
    public void Takeover(string fault, TimeSpan after, bool restarted)
    {
        (_takeovers.TryGetValue(fault, out var list) ? list : _takeovers[fault] = []).Add(after.TotalSeconds);
        _byRestarted += restarted ? 1 : 0;
        _run.Append(CultureInfo.InvariantCulture, $"  {(restarted ? "the killed one, restarted," : "standby")} serving {after.TotalSeconds:F1} s after");
    }

    /// <summary>The paused leader's own words on stepping down.</summary>
    public void SteppedDown(string line) => _stepDowns.Add(line[(line.IndexOf("Stepped down", StringComparison.Ordinal))..]);

    /// <summary>Sentinel named a new primary <paramref name="after"/> the kill.</summary>
    public void RedisFailover(TimeSpan after)
    {
        _promotions.Add(after.TotalSeconds);
        _run.Append(CultureInfo.InvariantCulture, $"  replica promoted {after.TotalSeconds:F1} s after");
    }

    /// <summary>
    /// Checks that every result an agent logged as acknowledged for run <paramref name="runId"/> (in
    /// <paramref name="said"/>, the agents' output during the run) is in the manifest Redis holds, once its end has been
    /// written; counts the run's results whose upload was retried. Returns what is missing, or null.
    /// </summary>
    public async Task<string?> CheckAcknowledgedAsync(string fault, string runId, string said, Func<Task<RunManifest?>> stored)
    {
        var prefix = runId + "/";
        var retried = RetryLine().Matches(said).Select(m => m.Groups[1].Value).Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).Distinct().Count();
        _retried[fault] = _retried.GetValueOrDefault(fault) + retried;
        _retriedTotal += retried;
        if (retried > 0)
        {
            _run.Append(CultureInfo.InvariantCulture, $"  {retried} result(s) retried");
        }

        // The run's end is written by the journal after the coordinator answers that it ended: wait for it to land.
        RunManifest? manifest = null;
        var waited = Stopwatch.StartNew();
        while ((manifest = await stored()) is not { } m || !RunStates.IsFinal(m.State))
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(30))
            {
                return $"the stored manifest of {runId} did not reach its end within 30 s (it says {manifest?.State ?? "nothing"})";
            }

            await Task.Delay(100);
        }

        var json = manifest.ToJson();
        var attempts = manifest.Rounds.SelectMany(r => r.Attempts).ToList();
        var missing = new List<string>();
        foreach (Match m in UploadedLine().Matches(said))
        {
            var (lease, digest, duplicate) = (m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value == "True");
            if (!lease.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            if (duplicate)
            {
                // Answered "already have it": the first delivery is what counts.
                _duplicates++;
                continue;
            }

            _acknowledged++;
            var recorded = lease.Contains("/prepare/", StringComparison.Ordinal) ? manifest.InitialWeightsDigest.EndsWith(digest, StringComparison.Ordinal)
                : ShardLease().IsMatch(lease) ? attempts.Any(a => a.LeaseId == lease && (a.ResultDigest?.EndsWith(digest, StringComparison.Ordinal) == true || a.CheckpointDigest?.EndsWith(digest, StringComparison.Ordinal) == true))
                : json.Contains(digest, StringComparison.Ordinal);
            if (!recorded)
            {
                missing.Add($"{lease} ({digest})");
            }
        }

        return missing.Count == 0 ? null : $"acknowledged to an agent but not in the stored manifest: {string.Join(", ", missing)}";
    }

    /// <summary>Prints the figures; <paramref name="restarts"/> (the supervisor's) only with two coordinators.</summary>
    public void Print(IReadOnlyCollection<(int ExitCode, string Why)>? restarts)
    {
        var inv = CultureInfo.InvariantCulture;
        foreach (var (fault, seconds) in _takeovers.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Console.WriteLine(string.Create(inv, $"takeover (standby serving)   {Range(seconds)} s after the leader was lost: {fault} ({seconds.Count}x)"));
        }

        if (_takeovers.Count > 0)
        {
            Console.WriteLine($"  taken over by               the standby {_takeovers.Values.Sum(v => v.Count) - _byRestarted}x, the killed leader started again {_byRestarted}x");
        }

        if (_promotions.Count > 0)
        {
            Console.WriteLine(string.Create(inv, $"Redis failover               replica promoted {Range(_promotions)} s after the primary's SIGKILL ({_promotions.Count}x)"));
        }

        foreach (var line in _stepDowns.Distinct())
        {
            Console.WriteLine($"paused leader on waking      {line}");
        }

        if (restarts is not null)
        {
            Console.WriteLine($"coordinators restarted       {restarts.Count} ({string.Join(", ", restarts.GroupBy(r => r.ExitCode).OrderBy(g => g.Key).Select(g => $"{g.Count()} after exit {g.Key}"))}), as systemd's Restart=always would");
            foreach (var (code, why) in restarts.Where(r => r.Why.Length > 0))
            {
                Console.WriteLine($"  exit {code}: {why[Math.Max(0, why.IndexOf("Stepped down", StringComparison.Ordinal))..]}");
            }
        }

        Console.WriteLine($"results retried              {_retriedTotal} (uploads agents sent again after the coordinator or Redis could not take them){(_retriedTotal == 0 ? "" : ": " + string.Join(", ", _retried.Where(p => p.Value > 0).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Value} in {p.Key}")))}");
        Console.WriteLine($"results acknowledged         {_acknowledged} checked against the stored manifests (+{_duplicates} answered duplicate)");
    }

    private static string Range(List<double> values) =>
        values.Count == 1 ? values[0].ToString("F1", CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{values.Min():F1} to {values.Max():F1}");

    [GeneratedRegex(@"Lease (\S+): result ([0-9a-f]{64}) uploaded \(\d+ bytes, duplicate: (\w+)\)")]
    private static partial Regex UploadedLine();

    [GeneratedRegex(@"Lease (\S+): coordinator unreachable for the upload, retrying")]
    private static partial Regex RetryLine();

    [GeneratedRegex(@"/r\d+/s\d+/e\d+$")]
    private static partial Regex ShardLease();
}
