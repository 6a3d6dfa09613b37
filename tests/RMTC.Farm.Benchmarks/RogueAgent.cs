using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// A misbehaving agent spoken over the real wire: it takes one lease and delivers a bad result (corrupt bytes, NaN
/// weights, a wrong shape, the same result twice, or a result after its lease expired), then leaves.
/// </summary>
internal sealed class RogueAgent(GrpcChannel channel, string id)
{
    private readonly AgentService.AgentServiceClient _client = new(channel);

    /// <summary>Opens a session; the next shard dispatched to the least-recently-used agent is this one's.</summary>
    public async Task<AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage>> ConnectAsync()
    {
        var registration = await _client.RegisterAsync(new RegisterRequest { AgentId = id, Hostname = "rogue", Slots = 1, Capacity = new Resources { Cores = 1, MemoryMib = 1024 } });
        var session = _client.Session();
        await session.RequestStream.WriteAsync(new AgentMessage { Hello = new Hello { AgentId = id, SessionToken = registration.SessionToken } });
        await session.RequestStream.WriteAsync(new AgentMessage { Heartbeat = new Heartbeat() });
        return session;
    }

    /// <summary>Waits for a lease, commits <paramref name="fault"/> with it, and returns the status code the coordinator answered.</summary>
    public async Task<string> MisbehaveAsync(AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage> session, string fault, IArtifactStore artifacts, TimeSpan leaseTimeout)
    {
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Assignment? lease = null;
        while (lease is null && await session.ResponseStream.MoveNext(wait.Token))
        {
            if (session.ResponseStream.Current.KindCase != CoordinatorMessage.KindOneofCase.Assign)
            {
                continue;
            }

            var assigned = session.ResponseStream.Current.Assign;
            if (assigned.GlobalWeightsDigest.Length == 0 || !assigned.LeaseId.Contains("/s", StringComparison.Ordinal))
            {
                // A run's preparation (its initial weights) or an evaluation, not a shard: handed back as failed, the
                // next attempt goes to a real agent, and this one waits for a shard to spoil.
                await session.RequestStream.WriteAsync(new AgentMessage { Failed = new ShardFailed { LeaseId = assigned.LeaseId, LeaseEpoch = assigned.LeaseEpoch, Reason = "the soak's rogue agent takes shards only" } }, wait.Token);
                continue;
            }

            lease = assigned;
        }

        if (lease is null)
        {
            return "no lease";
        }

        var global = artifacts.ReadAllBytes(lease.GlobalWeightsDigest);
        try
        {
            switch (fault)
            {
                case SoakFaults.CorruptUpload:
                    await UploadAsync(lease, global, digest: Sha256Digest.OfBytes([1, 2, 3]));
                    break;
                case SoakFaults.NaNWeights:
                    await UploadAsync(lease, Rewrite(global, tensors => tensors[0].AsFloat32()[0] = float.NaN));
                    break;
                case SoakFaults.WrongShape:
                    await UploadAsync(lease, Rewrite(global, tensors => tensors[^1] = new NamedTensor(tensors[^1].Name, tensors[^1].DType, [1, tensors[^1].ElementCount], tensors[^1].Data)));
                    break;
                case SoakFaults.DuplicateUpload:
                    var first = await UploadAsync(lease, global);
                    var second = await UploadAsync(lease, global);
                    return first.Duplicate || !second.Duplicate ? "duplicate not recognised" : "OK (second answered as duplicate)";
                case SoakFaults.StaleUpload:
                    // Cut off: no heartbeats until the lease has expired, then the late result.
                    await Task.Delay(leaseTimeout + TimeSpan.FromSeconds(2));
                    await UploadAsync(lease, global);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(fault), fault, "not a rogue fault");
            }

            return "OK (accepted: the fault was not caught)";
        }
        catch (RpcException e)
        {
            return e.StatusCode.ToString();
        }
    }

    private static byte[] Rewrite(byte[] safetensors, Action<List<NamedTensor>> change)
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, safetensors);
            var tensors = Safetensors.ReadFile(path).Tensors.ToList();
            change(tensors);
            using var output = new MemoryStream();
            Safetensors.Write(output, tensors);
            return output.ToArray();
        }
        finally
        {
            File.Delete(path);
        }
    }

    private async Task<UploadResultResponse> UploadAsync(Assignment lease, byte[] bytes, string? digest = null)
    {
        var header = new UploadHeader
        {
            LeaseId = lease.LeaseId,
            LeaseEpoch = lease.LeaseEpoch,
            AgentId = id,
            Digest = digest ?? Sha256Digest.OfBytes(bytes),
            TotalBytes = (ulong)bytes.Length,
            Samples = (ulong)lease.SampleIndices.Count,
            FinalLoss = 1,
            Device = "rogue",
        };
        return await RawUpload.SendAsync(_client, header, bytes);
    }
}
