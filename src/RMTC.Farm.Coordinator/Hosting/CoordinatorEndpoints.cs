using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace RMTC.Farm.Coordinator.Hosting;

/// <summary>The coordinator's listeners, so their bound ports (port 0 in tests) can be read after start.</summary>
public sealed class CoordinatorEndpoints
{
    public ListenOptions? Grpc { get; set; }
    /// <summary>True when the gRPC listener has TLS (Coordinator:Tls).</summary>
    public bool GrpcTls { get; set; }
    public ListenOptions? Metrics { get; set; }
    /// <summary>The HTTP data plane for artifacts (Coordinator:DataPlane:Port); null when off.</summary>
    public ListenOptions? DataPlane { get; set; }
    /// <summary>True when the data plane's listener has TLS.</summary>
    public bool DataPlaneTls { get; set; }
    /// <summary>The OpenCue-compatible endpoint; null when off.</summary>
    public ListenOptions? OpenCue { get; set; }
}
