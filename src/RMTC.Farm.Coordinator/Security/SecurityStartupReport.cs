using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>Says at start what is open: fine for the embedded demo, a finding on a real farm (see README, Security).</summary>
public sealed partial class SecurityStartupReport(
    FarmAccess access,
    DatasetConfinement confinement,
    OpenCueAccess openCue,
    CoordinatorEndpoints endpoints,
    IHostApplicationLifetime lifetime,
    IOptions<SecurityOptions> security,
    IOptions<CoordinatorOptions> coordinator,
    ILogger<SecurityStartupReport> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // One line for everything left open: the embedded demo shows it once, a farm's log makes it a finding.
        var open = new List<string>();
        if (!access.AgentsAuthenticated)
        {
            open.Add("agents are not authenticated (anyone who reaches the gRPC port can register and upload weights: set Coordinator:AgentTokenFile)");
        }

        if (!access.WranglersAuthenticated)
        {
            open.Add("wranglers are not authenticated (anyone can submit, see and cancel every job: set Coordinator:WranglerTokensFile)");
        }

        if (!confinement.Enabled)
        {
            open.Add("datasets are not confined (a job may name any directory the coordinator can read: set Coordinator:DatasetRoots)");
        }

        var c = coordinator.Value;
        if (open.Count > 0)
        {
            // Bound to loopback only (the embedded demo, a workstation), nobody else can reach it: a note, not a warning.
            if (IsLoopback(c.ListenAddress))
            {
                LogOpenOnLoopback(c.ListenAddress, string.Join("; ", open));
            }
            else
            {
                LogOpen(string.Join("; ", open));
            }
        }

        if (!security.Value.Tls.Enabled && (access.AgentsAuthenticated || access.WranglersAuthenticated))
        {
            LogTokensInClear();
        }

        // Once Kestrel has bound it, so the line names the real port (0 picks one).
        lifetime.ApplicationStarted.Register(ReportOpenCue);
        return Task.CompletedTask;
    }

    /// <summary>What the OpenCue port, which no token protects, is open to: exactly the address, port, hosts and shows.</summary>
    private void ReportOpenCue()
    {
        var c = coordinator.Value;
        if (endpoints.OpenCue?.IPEndPoint is not { } bound)
        {
            if (c.OpenCuePort >= 0 && openCue.Secured)
            {
                LogOpenCueOffOnSecuredFarm();
            }

            return;
        }

        var endpoint = bound.ToString();
        if (openCue.Scoped)
        {
            LogOpenCueSubmitHosts(endpoint, openCue.Describe());
        }
        else if (bound.Address.Equals(System.Net.IPAddress.Loopback) || bound.Address.Equals(System.Net.IPAddress.IPv6Loopback))
        {
            LogOpenCueOpenOnLoopback(endpoint);
        }
        else
        {
            LogOpenCueOpen(endpoint);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static bool IsLoopback(string address) => address is "127.0.0.1" or "localhost" or "::1";

    [LoggerMessage(Level = LogLevel.Information, Message = "This coordinator is open, as suits one machine (it listens on {Address} only); on a farm close it (README, Security): {What}")]
    private partial void LogOpenOnLoopback(string address, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "This coordinator is open, as suits one machine; on a farm close it (README, Security): {What}")]
    private partial void LogOpen(string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tokens are required but the gRPC port has no TLS: they cross the network in clear. Set Coordinator:Tls:CertificatePath (README, Security)")]
    private partial void LogTokensInClear();

    [LoggerMessage(Level = LogLevel.Information, Message = "The OpenCue port is off: this coordinator requires tokens, and pycue can send none. To let submit hosts launch and follow jobs with OpenCue tools, list their addresses and shows in Coordinator:OpenCueSubmitHosts (README, Security)")]
    private partial void LogOpenCueOffOnSecuredFarm();

    [LoggerMessage(Level = LogLevel.Information, Message = "The OpenCue port {Endpoint} is open without authentication (pycue can send no token) to these submit hosts only, each for its shows only (Coordinator:OpenCueSubmitHosts): {Hosts}. Other addresses are refused; the user names in their calls are taken on trust")]
    private partial void LogOpenCueSubmitHosts(string endpoint, string hosts);

    [LoggerMessage(Level = LogLevel.Information, Message = "The OpenCue port {Endpoint} is open to anyone on this machine, for every show (launch, list, kill, pause, resume); on a farm list submit hosts and their shows in Coordinator:OpenCueSubmitHosts (README, Security)")]
    private partial void LogOpenCueOpenOnLoopback(string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The OpenCue port {Endpoint} is open to anyone who reaches it, for every show (launch, list, kill, pause, resume), in plaintext: list submit hosts and their shows in Coordinator:OpenCueSubmitHosts, bind it to a private interface with Coordinator:OpenCueListenAddress, or turn it off with Coordinator:OpenCuePort=-1 (README, Security)")]
    private partial void LogOpenCueOpen(string endpoint);
}
