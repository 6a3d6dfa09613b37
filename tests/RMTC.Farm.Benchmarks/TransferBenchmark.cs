using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Execution.Transfers;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Weights;
using RMTC.Farm.Coordinator.DataPlane;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Integration.Tests;
using RMTC.Farm.Protos.Client;
using RMTC.Farm.Protos.DataPlane;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// Weights on the wire: FetchWeights and UploadResult of a P-parameter model over gRPC on loopback, and the same
/// transfers over the HTTP data plane (ranged GET, resumable PUT), through a real coordinator (Kestrel, the artifact
/// store, the scheduler's fencing), against a plain TCP socket moving the same bytes, all in one run.
/// </summary>
/// <remarks>
/// The upload goes through the whole receive path (sha256, finite check, temp file, rename). Its bytes are not the
/// run's model, so the scheduler refuses it once received: the figure is the transfer, not the merge (measured apart).
/// </remarks>
internal static class TransferBenchmark
{
    private const int Repeats = 3;

    public static async Task RunAsync(ResultTable table, long parameters)
    {
        long modelBytes = parameters * sizeof(float);
        Console.WriteLine($"transfer: {modelBytes / 1e6:N0} MB over loopback");
        var socket = await SocketCopyAsync(modelBytes);
        Console.WriteLine($"  plain TCP socket: {socket / 1e9:F2} GB/s");

        // The payload is not the run's model: let its size through the check that refuses uploads larger than the run's
        // weights (Coordinator:UploadHeadroomBytes, README Security), so the whole receive path is measured.
        Environment.SetEnvironmentVariable("RMTC_Coordinator__UploadHeadroomBytes", (2 * modelBytes).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using var farm = await FarmFixture.StartAsync(leaseTimeoutMs: 3_600_000, heartbeatMs: 1000);
        Environment.SetEnvironmentVariable("RMTC_Coordinator__UploadHeadroomBytes", null);
        var payload = Path.Combine(farm.Root, "payload.safetensors");
        var digest = WriteModel(payload, parameters);
        await using (var file = File.OpenRead(payload))
        {
            await farm.Artifacts.PutAsync(file, expectedDigest: digest);
        }

        using var channel = RMTC.Farm.Agent.Session.AgentChannel.Open(farm.Address);
        var client = new AgentService.AgentServiceClient(channel);

        double fetch = 0;
        long fetchPeak = 0;
        for (var i = 0; i < Repeats; i++)
        {
            var baseline = ProcessMemory.ResetPeak();
            var sw = Stopwatch.StartNew();
            long received = 0;
            using (var call = client.FetchWeights(new FetchWeightsRequest { Digest = digest }))
            {
                await foreach (var chunk in call.ResponseStream.ReadAllAsync())
                {
                    received += chunk.Data.Length;
                }
            }

            fetch = Math.Max(fetch, received / sw.Elapsed.TotalSeconds);
            fetchPeak = Math.Max(fetchPeak, ProcessMemory.Peak - baseline);
        }

        Console.WriteLine($"  FetchWeights: {fetch / 1e9:F2} GB/s, peak +{fetchPeak / 1e6:N0} MB (server and client in this process)");
        table.Add($"FetchWeights ({modelBytes / 1e6:N0} MB, gRPC loopback)", fetch / 1e9, "GB/s", socket / 1e9, "plain TCP socket, same bytes", ">= 0.5");
        table.Add("  FetchWeights peak memory", fetchPeak / 1e6, "MB", modelBytes / 1e6, "model size", "no full copy (ratio > 1)", higherIsBetter: false);

        // The data plane: what an agent's DataPlaneClient does (HTTP/1.1 GET, 1 MiB reads), the bytes counted and dropped
        // as FetchWeights' are above; then the agent's whole fetch into its cache (sha256 and file writes included).
        var plane = farm.App.DataPlaneAddress() ?? throw new InvalidOperationException("the coordinator has no data plane");
        using var dataPlane = new DataPlaneClient(plane, FarmCredentials.None);
        double get = 0;
        long getPeak = 0;
        for (var i = 0; i < Repeats; i++)
        {
            var baseline = ProcessMemory.ResetPeak();
            var sw = Stopwatch.StartNew();
            var sink = new CountingSink();
            await dataPlane.CopyToAsync(digest, ArtifactType.Weights, 0, sink, CancellationToken.None);
            get = Math.Max(get, sink.Count / sw.Elapsed.TotalSeconds);
            getPeak = Math.Max(getPeak, ProcessMemory.Peak - baseline);
        }

        Console.WriteLine($"  data plane GET: {get / 1e9:F2} GB/s, peak +{getPeak / 1e6:N0} MB (server and client in this process)");
        table.Add($"data plane GET ({modelBytes / 1e6:N0} MB, HTTP/1.1 loopback)", get / 1e9, "GB/s", socket / 1e9, "plain TCP socket, same bytes", ">= 0.5");
        table.Add("  data plane GET peak memory", getPeak / 1e6, "MB", modelBytes / 1e6, "model size", "no full copy (ratio > 1)", higherIsBetter: false);

        double cached = 0;
        for (var i = 0; i < Repeats; i++)
        {
            var node = Path.Combine("/dev/shm", $"rmtc-bench-node-{Environment.ProcessId}-{i}");
            try
            {
                var cache = new WeightsCache(Options.Create(new AgentOptions { WorkDirectory = node }), TimeProvider.System, NullLogger<WeightsCache>.Instance);
                var sw = Stopwatch.StartNew();
                await cache.GetAsync([dataPlane], digest, CancellationToken.None);
                cached = Math.Max(cached, modelBytes / sw.Elapsed.TotalSeconds);
            }
            finally
            {
                Directory.Delete(node, recursive: true);
            }
        }

        Console.WriteLine($"  data plane fetch into a node's cache (sha256, file in /dev/shm): {cached / 1e9:F2} GB/s");
        table.Add("  the agent's whole fetch: data plane into its cache, sha256 checked", cached / 1e9, "GB/s", socket / 1e9, "plain TCP socket, same bytes", "report");

        // A lease to upload against: one agent, a small run that tolerates every refusal.
        var agent = farm.Scheduler.Register(new AgentRegistration("bench", "bench", 1, new AgentResources(0, 0, 65536, 16, []), "bench"));
        var inbox = farm.Scheduler.Connect("bench", agent.SessionToken);
        var data = Path.Combine(farm.Root, "data");
        RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", data, 8, seed: 1);
        farm.Scheduler.SubmitPrepared(new JobSubmission { SpecYaml = $"name: transfer\nrecipe: classifier\ndataset: {data}\nshards: 1\nrounds: 1\nmax_retries: 100\n", SourceName = "bench.yaml" });

        double upload = 0;
        long uploadPeak = 0;
        for (var i = 0; i < Repeats; i++)
        {
            var assign = ((AssignWork)await inbox.ReadAsync()).Order;
            var baseline = ProcessMemory.ResetPeak();
            var sw = Stopwatch.StartNew();
            await UploadAsync(client, assign, digest, payload);
            upload = Math.Max(upload, modelBytes / sw.Elapsed.TotalSeconds);
            uploadPeak = Math.Max(uploadPeak, ProcessMemory.Peak - baseline);
        }

        Console.WriteLine($"  UploadResult: {upload / 1e9:F2} GB/s, peak +{uploadPeak / 1e6:N0} MB (server and client in this process)");
        table.Add($"UploadResult ({modelBytes / 1e6:N0} MB, gRPC loopback)", upload / 1e9, "GB/s", socket / 1e9, "plain TCP socket, same bytes", ">= 0.5");
        table.Add("  UploadResult peak memory", uploadPeak / 1e6, "MB", modelBytes / 1e6, "model size", "no full copy (ratio > 1)", higherIsBetter: false);

        // What the PUT cannot beat: sha256 of the same bytes, already in memory, on one core (the digest is one sequential
        // hash, computed as the bytes arrive). Measured here so the PUT's figure can be read against it.
        var hashRate = Sha256Rate(payload);
        Console.WriteLine($"  sha256 of the same bytes in memory, 1 MiB appends: {hashRate / 1e9:F2} GB/s");

        double put = 0;
        long putPeak = 0;
        for (var i = 0; i < Repeats; i++)
        {
            var assign = ((AssignWork)await inbox.ReadAsync()).Order;
            var baseline = ProcessMemory.ResetPeak();
            var sw = Stopwatch.StartNew();
            var metadata = new UploadMetadata { LeaseId = assign.LeaseId, LeaseEpoch = (ulong)assign.LeaseEpoch, AgentId = "bench", Samples = 8 };
            try
            {
                await dataPlane.UploadAsync(payload, digest, metadata, resume: false, CancellationToken.None);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
            {
                // Refused after it was received in full: not this run's model (expected, see the remarks).
            }

            put = Math.Max(put, modelBytes / sw.Elapsed.TotalSeconds);
            putPeak = Math.Max(putPeak, ProcessMemory.Peak - baseline);
        }

        Console.WriteLine($"  data plane PUT: {put / 1e9:F2} GB/s, peak +{putPeak / 1e6:N0} MB (server and client in this process)");
        table.Add($"data plane PUT ({modelBytes / 1e6:N0} MB, sha256, finite check, store)", put / 1e9, "GB/s", socket / 1e9, "plain TCP socket, same bytes", ">= 0.5");
        table.Add("  data plane PUT against sha256 alone of the same bytes", put / 1e9, "GB/s", hashRate / 1e9, "sha256 in memory, one core", "report");
        table.Add("  data plane PUT peak memory", putPeak / 1e6, "MB", modelBytes / 1e6, "model size", "no full copy (ratio > 1)", higherIsBetter: false);
    }

    /// <summary>Bytes per second sha256 takes in, best of three, over the file read into memory once.</summary>
    private static double Sha256Rate(string path)
    {
        var bytes = File.ReadAllBytes(path);
        double best = 0;
        for (var i = 0; i < Repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            for (var offset = 0; offset < bytes.Length; offset += 1 << 20)
            {
                hash.AppendData(bytes.AsSpan(offset, Math.Min(1 << 20, bytes.Length - offset)));
            }

            hash.GetHashAndReset();
            best = Math.Max(best, bytes.Length / sw.Elapsed.TotalSeconds);
        }

        return best;
    }

    /// <summary>A write-only stream that counts bytes and keeps none.</summary>
    private sealed class CountingSink : Stream
    {
        public long Count { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Count;

        public override long Position { get => Count; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Count += count;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Count += buffer.Length;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>What the agent's shard executor does: header, then the file in chunks.</summary>
    private static async Task UploadAsync(AgentService.AgentServiceClient client, WorkOrder assign, string digest, string path)
    {
        var length = new FileInfo(path).Length;
        using var call = client.UploadResult();
        await call.RequestStream.WriteAsync(new UploadResultRequest
        {
            Header = new UploadHeader { LeaseId = assign.LeaseId, LeaseEpoch = (ulong)assign.LeaseEpoch, AgentId = "bench", Digest = digest, TotalBytes = (ulong)length, Samples = 8 },
        });
        var buffer = new byte[int.Parse(Environment.GetEnvironmentVariable("RMTC_Coordinator__ChunkBytes") ?? "65536")];
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan))
        {
            int read;
            while ((read = await file.ReadAsync(buffer)) > 0)
            {
                await call.RequestStream.WriteAsync(new UploadResultRequest { Chunk = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, read)) });
            }
        }

        await call.RequestStream.CompleteAsync();
        try
        {
            await call.ResponseAsync;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            // Refused after it was received in full: not this run's model (expected, see the remarks).
        }
    }

    /// <summary>Bytes per second moved over a loopback TCP connection, 1 MiB writes, best of three.</summary>
    private static async Task<double> SocketCopyAsync(long bytes)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        double best = 0;
        for (var i = 0; i < Repeats; i++)
        {
            var accept = listener.AcceptSocketAsync();
            using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await sender.ConnectAsync(IPAddress.Loopback, port);
            using var receiver = await accept;
            var sw = Stopwatch.StartNew();
            var send = Task.Run(async () =>
            {
                var buffer = new byte[1 << 20];
                for (long sent = 0; sent < bytes;)
                {
                    var n = (int)Math.Min(buffer.Length, bytes - sent);
                    sent += await sender.SendAsync(buffer.AsMemory(0, n));
                }

                sender.Shutdown(SocketShutdown.Send);
            });
            var into = new byte[1 << 20];
            long got = 0;
            int r;
            while ((r = await receiver.ReceiveAsync(into)) > 0)
            {
                got += r;
            }

            await send;
            best = Math.Max(best, got / sw.Elapsed.TotalSeconds);
        }

        return best;
    }

    private static string WriteModel(string path, long parameters)
    {
        var data = new byte[parameters * sizeof(float)];
        var values = MemoryMarshal.Cast<byte, float>(data.AsSpan());
        var random = new Random(3);
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)random.NextDouble();
        }

        return Safetensors.WriteFile(path, [new NamedTensor("w", TensorDType.F32, [parameters], data)]);
    }
}
