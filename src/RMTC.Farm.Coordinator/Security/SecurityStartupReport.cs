using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>Says at start what is open: fine for the embedded demo, a finding on a real farm (see README, Security).</summary>
public sealed partial class SecurityStartupReport(FarmAccess access, DatasetConfinement confinement, IOptions<SecurityOptions> security, IOptions<CoordinatorOptions> coordinator, ILogger<SecurityStartupReport> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!access.AgentsAuthenticated)
        {
            LogAgentsOpen();
        }

        if (!access.WranglersAuthenticated)
        {
            LogWranglersOpen();
        }

        if (!security.Value.Tls.Enabled && (access.AgentsAuthenticated || access.WranglersAuthenticated))
        {
            LogTokensInClear();
        }

        if (!confinement.Enabled)
        {
            LogDatasetsUnconfined();
        }

        var c = coordinator.Value;
        var openCueAddress = string.IsNullOrWhiteSpace(c.OpenCueListenAddress) ? c.ListenAddress : c.OpenCueListenAddress;
        if (c.OpenCuePort >= 0 && openCueAddress is not ("127.0.0.1" or "localhost" or "::1"))
        {
            LogOpenCueExposed(openCueAddress, c.OpenCuePort);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agents are not authenticated: anyone who reaches the gRPC port can register as an agent and upload weights. On a farm set Coordinator:AgentTokenFile (README, Security)")]
    private partial void LogAgentsOpen();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Wranglers are not authenticated: anyone who reaches the gRPC port can submit, see and cancel every job. On a farm set Coordinator:WranglerTokensFile (README, Security)")]
    private partial void LogWranglersOpen();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tokens are required but the gRPC port has no TLS: they cross the network in clear. Set Coordinator:Tls:CertificatePath (README, Security)")]
    private partial void LogTokensInClear();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Datasets are not confined: a job may name any directory this coordinator can read. On a farm set Coordinator:DatasetRoots (README, Security)")]
    private partial void LogDatasetsUnconfined();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The OpenCue port {Address}:{Port} takes unauthenticated plaintext submissions (pycue cannot do TLS or tokens): bind it to a private interface with Coordinator:OpenCueListenAddress, or turn it off with Coordinator:OpenCuePort=-1")]
    private partial void LogOpenCueExposed(string address, int port);
}
