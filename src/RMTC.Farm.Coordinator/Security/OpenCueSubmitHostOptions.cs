namespace RMTC.Farm.Coordinator.Security;

/// <summary>
/// One entry of <c>Coordinator:OpenCueSubmitHosts</c>: submit hosts, by address, and the shows their OpenCue calls
/// may launch into, see and kill. Both lists are required: an entry is a narrow, explicit grant.
/// </summary>
public sealed class OpenCueSubmitHostOptions
{
    /// <summary>IP addresses (<c>10.20.0.7</c>) or networks in CIDR notation (<c>10.20.0.0/24</c>); not host names.</summary>
    public List<string> Addresses { get; set; } = new();

    /// <summary>Shows these hosts may act for, as spelled in the specs' <c>&lt;show&gt;</c>.</summary>
    public List<string> Shows { get; set; } = new();
}
