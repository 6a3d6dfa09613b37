using System.Diagnostics.Metrics;
using RMTC.Farm.Coordinator.Metrics;

namespace RMTC.Farm.Coordinator.Leadership;

/// <summary>
/// Leadership's series, in the farm's meter (<see cref="FarmMetrics.MeterName"/>): <c>rmtc_coordinator_leader</c> (1
/// while this coordinator leads and serves, else 0), <c>rmtc_coordinator_takeovers_total</c> (leader leases this
/// coordinator took) and <c>rmtc_coordinator_fencing_refusals_total</c> (writes Redis refused because another
/// coordinator holds a newer fencing token).
/// </summary>
public sealed class LeadershipMetrics
{
    private readonly Counter<long> _takeovers;
    private readonly Counter<long> _refusals;
    private volatile int _leader;

    public LeadershipMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(FarmMetrics.MeterName);
        meter.CreateObservableGauge("rmtc_coordinator_leader", () => _leader, description: "1 while this coordinator holds the leader lease and serves, 0 while it stands by");
        _takeovers = meter.CreateCounter<long>("rmtc_coordinator_takeovers", description: "Times this coordinator took the leader lease (and recovered the live runs)");
        _refusals = meter.CreateCounter<long>("rmtc_coordinator_fencing_refusals", description: "Store writes refused because another coordinator holds a newer fencing token");
        _takeovers.Add(0);
        _refusals.Add(0);
    }

    /// <summary>Whether this coordinator leads now.</summary>
    public void Leading(bool leading) => _leader = leading ? 1 : 0;

    public void TookOver() => _takeovers.Add(1);

    public void WriteRefused() => _refusals.Add(1);
}
