using Microsoft.Extensions.Logging;
using RMTC.Farm.Agent.Weights;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution.Transfers;

/// <summary>Fetches an attempt's inputs by digest through the <see cref="WeightsCache"/>: a node never fetches the same bytes twice.</summary>
public sealed partial class InputFetcher(WeightsCache cache, DataPlaneLink dataPlane, PeerLinks peers, ILogger<InputFetcher> log)
{
    /// <summary>The global weights, the run's model file and the checkpoint to resume, as <paramref name="a"/> names them.</summary>
    public async Task<ShardInputs> FetchAsync(AgentService.AgentServiceClient client, Assignment a, CancellationToken ct)
    {
        var sources = Sources(client, a);
        // A prepare task makes the run's first weights: there is nothing to fetch yet.
        var weights = a.Kind == TaskKind.Prepare ? "" : await cache.GetAsync(sources, a.GlobalWeightsDigest, ct);
        // A run's own model comes by digest like its weights, for every kind of task: no node needs the path the spec named.
        var model = a.ModelDigest.Length > 0
            ? new ScriptedModel
            {
                Path = await cache.GetAsync(sources, a.ModelDigest, ct, ArtifactType.Torchscript),
                Task = a.ModelTask,
                Loss = a.ModelLoss,
                Source = a.ModelFile.Length > 0 ? a.ModelFile : null,
                Digest = a.ModelDigest,
            }
            : null;
        var resume = await FetchCheckpointAsync(sources, a, ct);
        return new ShardInputs(weights, model, resume);
    }

    /// <summary>The checkpoint of the attempt this assignment resumes; null when none, or when the store lost it (then training restarts).</summary>
    private async Task<string?> FetchCheckpointAsync(IReadOnlyList<IArtifactSource> sources, Assignment a, CancellationToken ct)
    {
        if (a.ResumeCheckpointDigest.Length == 0)
        {
            return null;
        }

        try
        {
            var path = await cache.GetAsync(sources, a.ResumeCheckpointDigest, ct);
            LogResuming(a.LeaseId, a.ResumeCheckpointDigest);
            return path;
        }
        catch (ArtifactMissingException)
        {
            LogCheckpointGone(a.LeaseId, a.ResumeCheckpointDigest);
            return null;
        }
    }

    /// <summary>
    /// Where inputs come from, in order: the peer agent the coordinator named (one try, digest-checked, given up at its
    /// first failure), the coordinator's data plane when it offers one, then its gRPC stream (the fallback, and all an
    /// older coordinator has).
    /// </summary>
    private IReadOnlyList<IArtifactSource> Sources(AgentService.AgentServiceClient client, Assignment a)
    {
        var sources = new List<IArtifactSource>(3);
        if (peers.For(a.PeerDataPlane, a.LeaseId) is { } peer)
        {
            sources.Add(peer);
        }

        if (dataPlane.Current is { } plane)
        {
            sources.Add(plane);
        }

        sources.Add(new GrpcArtifactSource(client));
        return sources;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: resuming from checkpoint {Digest}")]
    private partial void LogResuming(string leaseId, string digest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: checkpoint {Digest} is gone from the coordinator's store; the shard restarts from the global weights")]
    private partial void LogCheckpointGone(string leaseId, string digest);
}
