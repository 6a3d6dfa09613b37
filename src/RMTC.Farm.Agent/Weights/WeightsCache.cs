using System.Collections.Concurrent;
using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Weights;

/// <summary>
/// Global weights (and runs' TorchScript model files) cached on the node by digest: each version crosses the network once
/// per node.
/// </summary>
public sealed class WeightsCache
{
    private readonly string _root;
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _inflight = new();

    public WeightsCache(IOptions<AgentOptions> options)
    {
        _root = Path.Combine(Path.GetFullPath(options.Value.WorkDirectory), "cache", "sha256");
        Directory.CreateDirectory(_root);
    }

    /// <summary>
    /// Path of the cached file with this digest, fetching it first when missing. Concurrent callers share one fetch.
    /// <paramref name="type"/> says whether the digest names weights or a model file (they are kept under different names).
    /// </summary>
    public async Task<string> GetAsync(AgentService.AgentServiceClient client, string digest, CancellationToken ct, ArtifactType type = ArtifactType.Weights)
    {
        var path = Path.Combine(_root, digest + (type == ArtifactType.Torchscript ? ".pt" : ".safetensors"));
        if (File.Exists(path))
        {
            return path;
        }

        var fetch = _inflight.GetOrAdd(path, _ => new Lazy<Task<string>>(() => FetchAsync(client, digest, type, path, ct)));
        try
        {
            return await fetch.Value;
        }
        finally
        {
            _inflight.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(path, fetch));
        }
    }

    private static async Task<string> FetchAsync(AgentService.AgentServiceClient client, string digest, ArtifactType type, string path, CancellationToken ct)
    {
        var temp = path + "." + Guid.NewGuid().ToString("N") + ".part";
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                using var call = client.FetchWeights(new FetchWeightsRequest { Digest = digest, Type = type }, cancellationToken: ct);
                await foreach (var chunk in call.ResponseStream.ReadAllAsync(ct))
                {
                    hash.AppendData(chunk.Data.Span);
                    await file.WriteAsync(chunk.Data.Memory, ct);
                }
            }

            var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (actual != digest)
            {
                throw new InvalidDataException($"{(type == ArtifactType.Torchscript ? "model file" : "weights")} {digest} arrived corrupt (hash {actual}); will fetch again");
            }

            File.Move(temp, path, overwrite: true);
            return path;
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }
}
