using Grpc.Net.Client;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Protos.Client;

namespace RMTC.Farm.Agent.Session;

/// <summary>The agent's connection to the coordinator: one place for its HTTP/2 settings and its credentials.</summary>
public static class AgentChannel
{
    /// <summary>Environment variable holding the farm token (used when <see cref="AgentOptions.TokenFile"/> is unset).</summary>
    public const string TokenVariable = "RMTC_FARM_TOKEN";

    /// <summary>Environment variable naming the farm CA file (used when <see cref="AgentOptions.CaFile"/> is unset).</summary>
    public const string CaVariable = "RMTC_CA_FILE";

    /// <summary>Opens a channel to the coordinator at <paramref name="address"/>, presenting <paramref name="credentials"/>.</summary>
    public static GrpcChannel Open(string address, FarmCredentials? credentials = null) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = (credentials ?? FarmCredentials.None).Apply(CreateHandler()),
        MaxReceiveMessageSize = 8 * 1024 * 1024,
    });

    /// <summary>
    /// The agent's way to the leading coordinator among <see cref="AgentOptions.Coordinator"/> (one address, or a leader
    /// and its standbys separated by commas), each channel opened as <see cref="Open"/> does with the agent's credentials.
    /// </summary>
    public static LeaderFollowingInvoker OpenLeaderFollowing(AgentOptions options)
    {
        var credentials = Credentials(options);
        return new LeaderFollowingInvoker(CoordinatorAddresses.Parse(options.Coordinator, "Agent:Coordinator"), address => Open(address, credentials));
    }

    /// <summary>
    /// The agent's credentials: the farm token from <see cref="AgentOptions.TokenFile"/>, else <c>RMTC_FARM_TOKEN</c>;
    /// the farm CA from <see cref="AgentOptions.CaFile"/>, else <c>RMTC_CA_FILE</c>; the client certificate for mutual TLS
    /// from <see cref="AgentOptions.ClientCertificatePath"/>. Throws naming an unreadable file.
    /// </summary>
    public static FarmCredentials Credentials(AgentOptions options) => new(
        FarmCredentials.ResolveToken(Environment.GetEnvironmentVariable(TokenVariable) is { Length: > 0 } env && string.IsNullOrWhiteSpace(options.TokenFile) ? env : null, options.TokenFile, "Agent:TokenFile"),
        string.IsNullOrWhiteSpace(options.CaFile) ? Environment.GetEnvironmentVariable(CaVariable) : options.CaFile,
        string.IsNullOrWhiteSpace(options.ClientCertificatePath) ? null : options.ClientCertificatePath,
        string.IsNullOrWhiteSpace(options.ClientKeyPath) ? null : options.ClientKeyPath);

    /// <summary>The HTTP handler agents use (keep-alive pings detect a dead coordinator; several connections avoid one stream limit).</summary>
    public static SocketsHttpHandler CreateHandler() => new()
    {
        EnableMultipleHttp2Connections = true,
        KeepAlivePingDelay = TimeSpan.FromSeconds(20),
        KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        // Weights arrive in a stream of chunks: a 64 KiB starting window (the default) throttles it until the
        // window grows; start where the coordinator's send window lets it run.
        InitialHttp2StreamWindowSize = 16 * 1024 * 1024,
    };
}
