using System.Diagnostics.Metrics;

namespace RMTC.Farm.Coordinator.Metrics;

/// <summary>
/// The farm's own series (<c>rmtc_</c> prefix) for Prometheus. Counters and histograms are fed by the scheduler as
/// things happen; gauges are read from the scheduler's state when scraped.
/// </summary>
public sealed class FarmMetrics : IDisposable
{
    /// <summary>Name of the meter every coordinator instrument belongs to.</summary>
    public const string MeterName = "RMTC.Farm.Coordinator";

    /// <summary>Histogram buckets (seconds) that fit rounds and merges from sub-second to an hour.</summary>
    public static readonly double[] DurationBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600];

    /// <summary>Buckets (seconds) for a shard's wait from ready to leased: milliseconds on an idle farm, hours on a busy one.</summary>
    public static readonly double[] WaitBuckets = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 1800, 3600];

    private readonly Meter _meter;
    private readonly Counter<long> _completed;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _preempted;
    private readonly Counter<long> _expired;
    private readonly Counter<long> _bytes;
    private readonly Histogram<double> _round;
    private readonly Histogram<double> _merge;
    private readonly Histogram<double> _leaseWait;
    private readonly Histogram<double> _dispatch;

    public FarmMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _completed = _meter.CreateCounter<long>("rmtc_shards_completed", description: "Shard attempts whose result was merged");
        _failed = _meter.CreateCounter<long>("rmtc_shards_failed", description: "Shard attempts that failed on their agent");
        _refused = _meter.CreateCounter<long>("rmtc_results_refused", description: "Results refused (corrupt, non-finite, wrong tensors)");
        _preempted = _meter.CreateCounter<long>("rmtc_shards_preempted", description: "Shard attempts handed back because rendering needed the node");
        _expired = _meter.CreateCounter<long>("rmtc_lease_expiries", description: "Leases that expired because their agent went silent");
        _bytes = _meter.CreateCounter<long>("rmtc_weights_transferred", unit: "By", description: "Bytes of weights moved between coordinator and agents");
        _round = _meter.CreateHistogram<double>("rmtc_round_duration", unit: "s", description: "Wall time of a round, from its start to its merged weights");
        _merge = _meter.CreateHistogram<double>("rmtc_merge_duration", unit: "s", description: "Time to close a round: finish the average, apply the strategy, store the weights");
        _leaseWait = _meter.CreateHistogram<double>("rmtc_lease_wait", unit: "s", description: "Time from a shard becoming ready (queued) to its lease being granted");
        _dispatch = _meter.CreateHistogram<double>("rmtc_dispatch_latency", unit: "s", description: "Time from a queued shard and a free fitting slot both existing to the lease: the scheduler's own delay");

        // Counters exist from the start at 0, so rates and alerts work before the first failure ever happens.
        foreach (var counter in new[] { _completed, _failed, _refused, _preempted, _expired })
        {
            counter.Add(0);
        }
    }

    /// <summary>Registers the gauges that read <paramref name="snapshot"/> at scrape time.</summary>
    public void ObserveFarm(Func<FarmSnapshot> snapshot)
    {
        _meter.CreateObservableGauge("rmtc_agents_connected", () => snapshot().AgentsConnected, description: "Agents with an open session");
        _meter.CreateObservableGauge("rmtc_agent_connected", () => snapshot().Agents.Select(a =>
            new Measurement<int>(a.Connected ? 1 : 0, new KeyValuePair<string, object?>("agent", a.AgentId), new KeyValuePair<string, object?>("Hostname", a.Hostname))),
            description: "1 while the agent holds a session, 0 once it went away");
        _meter.CreateObservableGauge("rmtc_shards_queued", () => snapshot().ShardsQueued, description: "Shards waiting for an agent");
        _meter.CreateObservableGauge("rmtc_shards_running", () => snapshot().ShardsRunning, description: "Shards leased to an agent");
        _meter.CreateObservableGauge("rmtc_run_progress", () => snapshot().Runs.Select(r =>
            new Measurement<double>(r.Progress, new KeyValuePair<string, object?>("run", r.RunId), new KeyValuePair<string, object?>("name", r.Name))),
            description: "Fraction of a live run's shard-rounds done (0 to 1)");
        _meter.CreateObservableGauge("rmtc_run_eval_loss", () => EvaluationGauge(snapshot, e => e.Loss),
            description: "Loss of a live run's latest merged model on its held-out evaluation split");
        _meter.CreateObservableGauge("rmtc_run_eval_accuracy", () => EvaluationGauge(snapshot, e => e.Accuracy),
            description: "Accuracy (0 to 1) of a live classifier run's latest merged model on its held-out split");
        _meter.CreateObservableGauge("rmtc_run_eval_psnr", () => EvaluationGauge(snapshot, e => e.Psnr), unit: "dB",
            description: "PSNR of a live image-pairs run's latest merged model on its held-out split");
    }

    private static IEnumerable<Measurement<double>> EvaluationGauge(Func<FarmSnapshot> snapshot, Func<Core.Lineage.RoundEvaluation, double?> value) =>
        snapshot().Runs
            .Where(r => r.Evaluation is not null && value(r.Evaluation) is not null)
            .Select(r => new Measurement<double>(value(r.Evaluation!)!.Value, new KeyValuePair<string, object?>("run", r.RunId), new KeyValuePair<string, object?>("name", r.Name)));

    /// <summary>Registers the DCGM-compatible per-GPU gauges over the agents' latest samples.</summary>
    public void ObserveGpus(Func<IReadOnlyList<(string Hostname, Scheduling.GpuReading Sample)>> samples) => DcgmGauges.Register(_meter, samples);

    public void ShardCompleted(string agent) => _completed.Add(1, new KeyValuePair<string, object?>("agent", agent));

    public void ShardFailed(string agent) => _failed.Add(1, new KeyValuePair<string, object?>("agent", agent));

    public void ResultRefused(string agent) => _refused.Add(1, new KeyValuePair<string, object?>("agent", agent));

    public void ShardPreempted(string agent) => _preempted.Add(1, new KeyValuePair<string, object?>("agent", agent));

    public void LeaseExpired(string agent) => _expired.Add(1, new KeyValuePair<string, object?>("agent", agent));

    public void WeightsTransferred(long bytes, string direction) => _bytes.Add(bytes, new KeyValuePair<string, object?>("direction", direction));

    /// <summary>A lease was granted: <paramref name="waitSeconds"/> since its shard was queued, <paramref name="dispatchSeconds"/> since both it and a free slot existed.</summary>
    public void LeaseGranted(double waitSeconds, double dispatchSeconds)
    {
        _leaseWait.Record(waitSeconds);
        _dispatch.Record(dispatchSeconds);
    }

    public void RoundClosed(double seconds, double mergeSeconds, string recipe)
    {
        _round.Record(seconds, new KeyValuePair<string, object?>("recipe", recipe));
        _merge.Record(mergeSeconds, new KeyValuePair<string, object?>("recipe", recipe));
    }

    public void Dispose() => _meter.Dispose();
}

/// <summary>The farm's state at one instant, for gauges.</summary>
public sealed record FarmSnapshot(int AgentsConnected, int ShardsQueued, int ShardsRunning, IReadOnlyList<RunProgress> Runs, IReadOnlyList<AgentPresence> Agents);

/// <summary>Whether a registered agent holds a session.</summary>
public sealed record AgentPresence(string AgentId, string Hostname, bool Connected);

/// <summary>How far a live run is.</summary>
public sealed record RunProgress(string RunId, string Name, double Progress, Core.Lineage.RoundEvaluation? Evaluation = null);
