using System.Collections.Concurrent;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Execution;
using RMTC.Farm.Agent.Execution.Transfers;
using RMTC.Farm.Agent.Gpus;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Weights;
using RMTC.Farm.Agent.Yielding;
using RMTC.Farm.Protos.Client;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Session;

/// <summary>
/// The daemon's main loop: register, hold the session (heartbeats up, assignments down), run shards, and
/// reconnect with backoff whenever the coordinator goes away. Running shards survive a reconnect.
/// </summary>
public sealed partial class AgentWorker(ShardExecutor executor, DataPlaneLink dataPlane, PeerCacheServer peerCache, GpuSampling gpuSampling, IOptions<AgentOptions> options, TimeProvider time, ILogger<AgentWorker> log, YieldMonitor yielding) : BackgroundService
{
    private readonly ConcurrentDictionary<string, RunningShard> _running = new(StringComparer.Ordinal);
    private readonly Channel<AgentMessage> _outgoing = Channel.CreateUnbounded<AgentMessage>();
    private IReadOnlyList<GpuDevice>? _gpus;

    /// <summary>The id this agent registers under.</summary>
    public string AgentId { get; } = string.IsNullOrWhiteSpace(options.Value.Id) ? Environment.MachineName : options.Value.Id!;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        // The GPU simulation follows what this agent runs; real GPUs ignore it.
        gpuSampling.Busy = () => !_running.IsEmpty;
        yielding.Changed += OnYieldChanged;
        using var coordinators = AgentChannel.OpenLeaderFollowing(o);
        coordinators.Moved += (from, to, why) => LogFollowing(from, to, why);
        var client = new AgentService.AgentServiceClient(coordinators);
        var delay = TimeSpan.FromMilliseconds(200);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunSessionAsync(client, coordinators, stoppingToken);
                delay = TimeSpan.FromMilliseconds(200);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is RpcException or IOException or HttpRequestException or OperationCanceledException)
            {
                if (e is RpcException refusal && LeaderHint.Of(refusal) is not null)
                {
                    // A standby named the leader: go there at once rather than after a backoff meant for outages.
                    delay = TimeSpan.FromMilliseconds(200);
                }

                LogSessionLost(coordinators.Current, e is RpcException r ? $"{r.StatusCode}: {r.Status.Detail}" : e.Message, delay.TotalSeconds);
            }

            try
            {
                // Jitter keeps a whole wall of agents from reconnecting in lockstep after a coordinator restart.
                var jitter = TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)Math.Max(1, delay.TotalMilliseconds / 4)));
                await Task.Delay(delay + jitter, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, o.ReconnectMaxDelayMs));
        }

        await StopAllAsync();
    }

    private async Task RunSessionAsync(AgentService.AgentServiceClient client, LeaderFollowingInvoker coordinators, CancellationToken ct)
    {
        var o = options.Value;
        // Simulated GPUs stand in for real ones only where the operator did not say how many GPUs to offer.
        var simulated = o.Gpus is null ? o.SimulatedGpus : 0;
        var gpus = _gpus ??= o.Gpus == 0 || simulated > 0 ? [] : GpuInventory.Detect(TimeSpan.FromSeconds(10));
        var gpuCount = o.Gpus ?? (simulated > 0 ? simulated : gpus.Count);
        var slots = o.Slots > 0 ? o.Slots : Math.Max(1, gpuCount);
        var capacity = new Resources
        {
            Gpus = (uint)gpuCount,
            GpuMemoryMib = (ulong)(o.GpuMemoryMiB ?? (simulated > 0 ? (long)SimulatedGpuSampler.MemoryTotalMib : gpus.Count > 0 ? (long)gpus.Min(g => g.MemoryTotalMib) : 0)),
            MemoryMib = (ulong)(o.MemoryMiB > 0 ? o.MemoryMiB : GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024)),
            Cores = o.Cores > 0 ? o.Cores : Environment.ProcessorCount,
        };
        capacity.Tags.AddRange(o.Tags);
        var request = new RegisterRequest
        {
            AgentId = AgentId,
            Hostname = Environment.MachineName,
            Slots = (uint)slots,
            Capacity = capacity,
            Version = typeof(AgentWorker).Assembly.GetName().Version?.ToString() ?? "",
            // Where peers may fetch what this node holds; the coordinator learns what it holds from the leases it ran.
            PeerDataPlane = await peerCache.AdvertisedAsync.WaitAsync(ct) ?? "",
        };
        request.Gpus.AddRange(gpus);
        var registration = await client.RegisterAsync(request, cancellationToken: ct);
        // Weights go over the data plane of the coordinator that answered (gRPC when it offers none).
        dataPlane.Use(coordinators.Current, registration.DataPlane);

        using var session = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var call = client.Session(cancellationToken: session.Token);
        await call.RequestStream.WriteAsync(new AgentMessage { Hello = new Hello { AgentId = AgentId, SessionToken = registration.SessionToken } }, ct);
        LogConnected(AgentId, coordinators.Current, slots, dataPlane.Current?.Name ?? "gRPC");
        executor.AgentConnected();

        var sender = SendAsync(call.RequestStream, TimeSpan.FromMilliseconds(registration.HeartbeatIntervalMs), session.Token);
        try
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync(session.Token))
            {
                switch (message.KindCase)
                {
                    case CoordinatorMessage.KindOneofCase.Assign:
                        Start(client, message.Assign);
                        break;
                    case CoordinatorMessage.KindOneofCase.Cancel:
                        if (_running.TryGetValue(message.Cancel.LeaseId, out var running))
                        {
                            LogCancelled(message.Cancel.LeaseId, message.Cancel.Reason);
                            await running.Cancellation.CancelAsync();
                        }

                        break;
                }
            }
        }
        finally
        {
            await session.CancelAsync();
            try
            {
                await sender;
            }
            catch (Exception e) when (e is OperationCanceledException or RpcException or InvalidOperationException or IOException)
            {
            }
        }

        throw new RpcException(new Status(StatusCode.Unavailable, "the coordinator closed the session"));
    }

    private async Task SendAsync(IClientStreamWriter<AgentMessage> stream, TimeSpan interval, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            // Messages that failed to go out on a broken session stay queued for the next one.
            while (_outgoing.Reader.TryPeek(out var pending))
            {
                await stream.WriteAsync(pending, ct);
                _outgoing.Reader.TryRead(out _);
            }

            await stream.WriteAsync(new AgentMessage { Heartbeat = BuildHeartbeat() }, ct);
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var timer = Task.Delay(interval, time, wake.Token);
            var message = _outgoing.Reader.WaitToReadAsync(wake.Token).AsTask();
            await Task.WhenAny(timer, message);
            await wake.CancelAsync();
        }
    }

    private Heartbeat BuildHeartbeat()
    {
        var heartbeat = new Heartbeat { SentAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()) };
        foreach (var shard in _running.Values)
        {
            var p = shard.Progress.Clone();
            p.LeaseId = shard.Assignment.LeaseId;
            p.LeaseEpoch = shard.Assignment.LeaseEpoch;
            p.Phase = shard.Phase;
            heartbeat.Running.Add(p);
        }

        heartbeat.Gpus.AddRange(gpuSampling.Latest);
        if (yielding.Reason is { } reason)
        {
            heartbeat.Yielding = true;
            heartbeat.YieldReason = reason;
        }

        return heartbeat;
    }

    /// <summary>Rendering needs the node (or no longer does): stop running shards with a checkpoint, and tell the coordinator now.</summary>
    private void OnYieldChanged(string? reason)
    {
        if (reason is not null)
        {
            foreach (var shard in _running.Values)
            {
                RequestYield(shard, reason);
            }
        }

        // An extra heartbeat carries the new state at once instead of at the next interval.
        _outgoing.Writer.TryWrite(new AgentMessage { Heartbeat = BuildHeartbeat() });
    }

    private static void RequestYield(RunningShard shard, string reason)
    {
        if (shard.YieldRequested.IsCancellationRequested)
        {
            return;
        }

        shard.YieldReason = reason;
        shard.YieldRequested.Cancel();
    }

    private void Start(AgentService.AgentServiceClient client, Assignment assignment)
    {
        var shard = new RunningShard { Assignment = assignment, Cancellation = new CancellationTokenSource() };
        shard.InputsFetched = () => _outgoing.Writer.TryWrite(new AgentMessage { Heartbeat = BuildHeartbeat() });
        if (!_running.TryAdd(assignment.LeaseId, shard))
        {
            return;
        }

        if (yielding.Reason is { } yieldReason)
        {
            // Granted before the coordinator heard that this node yields: hand it straight back.
            RequestYield(shard, yieldReason);
        }

        LogAssigned(assignment.LeaseId, assignment.RunId, assignment.Round, assignment.Shard, assignment.SampleIndices.Count);
        shard.Task = Task.Run(async () =>
        {
            try
            {
                var failure = await executor.RunAsync(client, AgentId, shard, shard.Cancellation.Token);
                if (failure is not null)
                {
                    LogShardFailed(assignment.LeaseId, failure.Reason);
                    _outgoing.Writer.TryWrite(new AgentMessage { Failed = failure });
                }
                else if (shard.Yielded is { } yielded)
                {
                    _outgoing.Writer.TryWrite(new AgentMessage { Yielded = yielded });
                }
                else if (shard.Evaluated is { } evaluated)
                {
                    _outgoing.Writer.TryWrite(new AgentMessage { Evaluated = evaluated });
                }
            }
            finally
            {
                _running.TryRemove(assignment.LeaseId, out _);
                shard.Cancellation.Dispose();
            }
        });
    }

    private async Task StopAllAsync()
    {
        foreach (var shard in _running.Values)
        {
            await shard.Cancellation.CancelAsync();
        }

        await Task.WhenAll(_running.Values.Select(s => s.Task ?? Task.CompletedTask));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {AgentId} connected to {Coordinator} with {Slots} slot(s); weights over {Transfers}")]
    private partial void LogConnected(string agentId, string coordinator, int slots, string transfers);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Following the leader: calls go to {To} instead of {From} ({Why})")]
    private partial void LogFollowing(string from, string to, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session with {Coordinator} lost ({Reason}); reconnecting in {Seconds:F1} s")]
    private partial void LogSessionLost(string coordinator, string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: run {RunId} round {Round} shard {Shard} ({Samples} samples)")]
    private partial void LogAssigned(string leaseId, string runId, uint round, uint shard, int samples);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId} cancelled by the coordinator: {Reason}")]
    private partial void LogCancelled(string leaseId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId} failed: {Reason}")]
    private partial void LogShardFailed(string leaseId, string reason);
}
