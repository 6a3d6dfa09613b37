using Grpc.Core;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Weights;

/// <summary>The coordinator's <c>FetchWeights</c> stream (from an offset): the path every coordinator serves, and the fallback.</summary>
public sealed class GrpcArtifactSource(AgentService.AgentServiceClient client) : IArtifactSource
{
    /// <inheritdoc/>
    public string Name => "gRPC FetchWeights";

    /// <inheritdoc/>
    public async Task CopyToAsync(string digest, ArtifactType type, long offset, Stream destination, CancellationToken cancellationToken)
    {
        try
        {
            using var call = client.FetchWeights(new FetchWeightsRequest { Digest = digest, Type = type, Offset = (ulong)offset }, cancellationToken: cancellationToken);
            await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                await destination.WriteAsync(chunk.Data.Memory, cancellationToken);
            }
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            throw new ArtifactMissingException(e.Status.Detail);
        }
    }
}
