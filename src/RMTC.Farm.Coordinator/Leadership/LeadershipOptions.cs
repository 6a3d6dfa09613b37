using System.ComponentModel.DataAnnotations;

namespace RMTC.Farm.Coordinator.Leadership;

/// <summary>
/// Several coordinators over one Redis store: one leads under a lease, the others stand by (section
/// <c>Coordinator:Leadership</c>; environment <c>RMTC_Coordinator__Leadership__*</c>). Off by default: one coordinator
/// owns its store and nothing changes.
/// </summary>
public sealed class LeadershipOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Coordinator:Leadership";

    /// <summary>Take part in leader election (needs <c>Coordinator:Redis</c>, shared by every coordinator of the farm).</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// How long the leader lease lasts without a renewal: after the leader dies, a standby takes over within about
    /// this long plus one <see cref="RenewIntervalMs"/>.
    /// </summary>
    [Range(500, 600_000)]
    public int LeaseMs { get; set; } = 3000;

    /// <summary>How often the leader renews its lease, and how often a standby tries to take it; at most half of <see cref="LeaseMs"/>.</summary>
    [Range(50, 300_000)]
    public int RenewIntervalMs { get; set; } = 1000;

    /// <summary>
    /// The address clients use to reach this coordinator's gRPC port (e.g. <c>http://coord-a.farm:7460</c>): standbys
    /// name it to clients while this one leads. Required when <see cref="Enabled"/>.
    /// </summary>
    public string? AdvertisedAddress { get; set; }
}
