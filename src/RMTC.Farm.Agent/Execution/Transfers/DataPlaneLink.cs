using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Session;

namespace RMTC.Farm.Agent.Execution.Transfers;

/// <summary>
/// The data plane of the coordinator this agent is registered with, as that coordinator advertised it; null while it
/// offers none (an older coordinator, <c>Coordinator:DataPlane:Port = -1</c>) or <see cref="AgentOptions.UseDataPlane"/> is off.
/// </summary>
public sealed class DataPlaneLink(IOptions<AgentOptions> options) : IDisposable
{
    private volatile DataPlaneClient? _current;

    /// <summary>The data plane to use now, or null for gRPC.</summary>
    public DataPlaneClient? Current => _current;

    /// <summary>
    /// Takes what a registration answered: the data plane is on the host the agent dialled (<paramref name="coordinator"/>)
    /// at the advertised port, with TLS when advertised.
    /// </summary>
    public void Use(string coordinator, Protos.V1.DataPlane? advertised)
    {
        if (advertised is null || !options.Value.UseDataPlane)
        {
            _current = null;
            return;
        }

        var dialled = new Uri(coordinator);
        var address = new UriBuilder(advertised.Tls ? Uri.UriSchemeHttps : Uri.UriSchemeHttp, dialled.Host, (int)advertised.Port).Uri;
        if (_current?.BaseAddress == address)
        {
            return;
        }

        // The previous client may still carry a transfer; it goes with the garbage once that ends.
        _current = new DataPlaneClient(address, AgentChannel.Credentials(options.Value));
    }

    public void Dispose() => _current?.Dispose();
}
