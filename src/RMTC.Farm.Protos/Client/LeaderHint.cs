using Grpc.Core;

namespace RMTC.Farm.Protos.Client;

/// <summary>
/// How a coordinator that does not lead says where the leader is: it answers <see cref="StatusCode.Unavailable"/> and
/// puts the leader's advertised address in the trailer <see cref="MetadataKey"/> (and in the status text, for people).
/// </summary>
public static class LeaderHint
{
    /// <summary>The trailer (response metadata) key holding the leader's advertised address.</summary>
    public const string MetadataKey = "rmtc-leader";

    /// <summary>The leader's address a refusal names, or null when it names none.</summary>
    public static string? Of(RpcException e) =>
        e.StatusCode == StatusCode.Unavailable && e.Trailers.GetValue(MetadataKey) is { Length: > 0 } leader ? leader : null;
}
