using Grpc.Net.Client;

namespace RMTC.Farm.Agent.Session;

/// <summary>The agent's connection to the coordinator: one place for its HTTP/2 settings.</summary>
public static class AgentChannel
{
    /// <summary>Opens a channel to the coordinator at <paramref name="address"/>.</summary>
    public static GrpcChannel Open(string address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = CreateHandler(),
        MaxReceiveMessageSize = 8 * 1024 * 1024,
    });

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
