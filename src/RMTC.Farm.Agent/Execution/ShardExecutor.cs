using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Weights;
using RMTC.Farm.Agent.Yielding;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution;

/// <summary>
/// Runs one shard attempt end to end: global weights from the cache, the trainer as a child process in its own
/// process group, the result streamed back in chunks.
/// </summary>
public sealed partial class ShardExecutor(WeightsCache cache, IOptions<AgentOptions> options, TimeProvider time, ILogger<ShardExecutor> log)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Runs the attempt; returns null on success (or when the coordinator no longer wants it), else the failure to report.</summary>
    public async Task<ShardFailed?> RunAsync(AgentService.AgentServiceClient client, string agentId, RunningShard shard, CancellationToken ct)
    {
        var a = shard.Assignment;
        var o = options.Value;
        var dir = Path.Combine(Path.GetFullPath(o.WorkDirectory), "shards", a.LeaseId.Replace('/', '_'));
        try
        {
            if (shard.YieldRequested.IsCancellationRequested)
            {
                shard.Yielded = Preemption.Yielded(a, shard.YieldReason, "", null);
                return null;
            }

            shard.Phase = "fetching";
            // A prepare task makes the run's first weights: there is nothing to fetch yet.
            var weights = a.Kind == TaskKind.Prepare ? "" : await cache.GetAsync(client, a.GlobalWeightsDigest, ct);
            // A run's own model comes by digest like its weights, for every kind of task: no node needs the path the spec named.
            var model = a.ModelDigest.Length > 0
                ? new ScriptedModel
                {
                    Path = await cache.GetAsync(client, a.ModelDigest, ct, ArtifactType.Torchscript),
                    Task = a.ModelTask,
                    Loss = a.ModelLoss,
                    Source = a.ModelFile.Length > 0 ? a.ModelFile : null,
                    Digest = a.ModelDigest,
                }
                : null;
            var resume = await FetchCheckpointAsync(client, a, ct);
            if (shard.YieldRequested.IsCancellationRequested)
            {
                // Rendering claimed the node before training began: nothing to keep, hand the shard straight back.
                shard.Yielded = Preemption.Yielded(a, shard.YieldReason, "", null);
                return null;
            }

            if (o.SimulateTrainingMs > 0 && a.Kind == TaskKind.Evaluate)
            {
                // Simulated training has nothing worth evaluating: the figures say so (device "simulated").
                shard.Evaluated = new EvaluationReport { LeaseId = a.LeaseId, LeaseEpoch = a.LeaseEpoch, Samples = (uint)a.SampleIndices.Count, Device = "simulated" };
                return null;
            }

            if (o.SimulateTrainingMs > 0 && a.Kind == TaskKind.Shard)
            {
                await SimulateAsync(client, agentId, shard, weights, resume, dir, ct);
                return null;
            }

            // Made only for a real trainer: a simulated shard writes nothing unless it is preempted.
            Directory.CreateDirectory(dir);
            var task = new ShardTask
            {
                Kind = a.Kind switch { TaskKind.Prepare => ShardTaskKinds.Prepare, TaskKind.Evaluate => ShardTaskKinds.Evaluate, _ => ShardTaskKinds.Train },
                RunId = a.RunId,
                Round = (int)a.Round,
                Shard = (int)a.Shard,
                Recipe = a.Recipe,
                DatasetPath = a.DatasetPath,
                SampleIndices = a.SampleIndices.Select(i => (int)i).ToArray(),
                InitialWeightsPath = weights,
                Seed = a.Seed,
                Epochs = (int)a.Epochs,
                BatchSize = (int)a.BatchSize,
                LearningRate = a.LearningRate,
                OutputPath = Path.Combine(dir, "result.safetensors"),
                ResultPath = Path.Combine(dir, "result.json"),
                Threads = o.ThreadsPerShard > 0 ? o.ThreadsPerShard : Math.Max(1, Environment.ProcessorCount / Math.Max(1, o.Slots)),
                CheckpointPath = Path.Combine(dir, "checkpoint.safetensors"),
                ResumeCheckpointPath = resume,
                Optimizer = OptimizerOf(a),
                Model = model,
            };
            var taskPath = Path.Combine(dir, "task.json");
            await File.WriteAllTextAsync(taskPath, JsonSerializer.Serialize(task, Json), ct);

            shard.Phase = a.Kind switch { TaskKind.Prepare => "preparing", TaskKind.Evaluate => "evaluating", _ => "training" };
            var (failure, yielded) = await TrainAsync(shard, task, taskPath, dir, ct);
            if (failure is not null)
            {
                return failure;
            }

            if (yielded is not null)
            {
                var checkpoint = yielded.Value.Checkpoint && File.Exists(task.CheckpointPath) ? task.CheckpointPath : null;
                await HandBackAsync(client, agentId, shard, checkpoint, yielded.Value.Report, ct);
                return null;
            }

            if (a.Kind == TaskKind.Evaluate)
            {
                var figures = JsonSerializer.Deserialize<EvaluationFigures>(await File.ReadAllTextAsync(task.ResultPath, ct), Json)
                    ?? throw new InvalidDataException("the trainer wrote an empty result.json");
                shard.Evaluated = new EvaluationReport
                {
                    LeaseId = a.LeaseId,
                    LeaseEpoch = a.LeaseEpoch,
                    Loss = figures.Loss,
                    Samples = (uint)figures.Samples,
                    Seconds = figures.Seconds,
                    Device = figures.Device,
                };
                if (figures.Accuracy is { } accuracy)
                {
                    shard.Evaluated.Accuracy = accuracy;
                }

                if (figures.Psnr is { } psnr)
                {
                    shard.Evaluated.Psnr = psnr;
                }

                return null;
            }

            shard.Phase = "uploading";
            var result = JsonSerializer.Deserialize<ShardResult>(await File.ReadAllTextAsync(task.ResultPath, ct), Json)
                ?? throw new InvalidDataException("the trainer wrote an empty result.json");
            await UploadWithRetryAsync(client, agentId, a, task.OutputPath, result, ct);
            return null;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return null;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition)
        {
            // Stale lease: the coordinator moved on (expiry, cancellation). Nothing to report.
            LogStale(a.LeaseId, e.Status.Detail);
            return null;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or JsonException or RpcException or UnauthorizedAccessException)
        {
            return Failed(a, e is RpcException r ? $"{r.StatusCode}: {r.Status.Detail}" : e.Message);
        }
        finally
        {
            TryDeleteDirectory(dir);
        }
    }

    /// <summary>The assignment's optimiser; null for adam without weight decay (what a coordinator that sends none means).</summary>
    private static OptimizerSettings? OptimizerOf(Assignment a)
    {
        var settings = new OptimizerSettings
        {
            Name = a.Optimizer.Length > 0 ? a.Optimizer : OptimizerNames.Adam,
            Momentum = a.Momentum,
            WeightDecay = a.WeightDecay,
        };
        return settings == OptimizerSettings.Default ? null : settings;
    }

    /// <summary>
    /// The simulation of <see cref="AgentOptions.SimulateTrainingMs"/>: no trainer process, a fixed wait, and the global
    /// weights handed back as the result (a valid model, so the coordinator merges it like any other).
    /// </summary>
    private async Task SimulateAsync(AgentService.AgentServiceClient client, string agentId, RunningShard shard, string weights, string? resume, string dir, CancellationToken ct)
    {
        var a = shard.Assignment;
        shard.Phase = "training (simulated)";
        var total = TimeSpan.FromMilliseconds(options.Value.SimulateTrainingMs);
        // A simulated shard is preemptible too: its checkpoint is how long it has "trained", so a resumed one waits the rest.
        var done = resume is not null ? Preemption.ReadSimulatedCheckpoint(resume) : TimeSpan.Zero;
        var started = time.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, shard.YieldRequested.Token);
        try
        {
            var rest = total - done;
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest, time, stop.Token);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            var trained = done + time.GetElapsedTime(started);
            Directory.CreateDirectory(dir);
            var checkpoint = Path.Combine(dir, "checkpoint.json");
            Preemption.WriteSimulatedCheckpoint(checkpoint, trained, total);
            var samples = a.SampleIndices.Count;
            var seen = (long)Math.Min(samples, samples * trained.TotalMilliseconds / Math.Max(1, total.TotalMilliseconds));
            await HandBackAsync(client, agentId, shard, checkpoint, new ShardYieldReport(1, 0, seen, samples), ct);
            return;
        }

        shard.Phase = "uploading";
        var result = new ShardResult { Samples = a.SampleIndices.Count, FinalLoss = 0, EpochLosses = [], Seconds = total.TotalSeconds, Device = "simulated" };
        await UploadWithRetryAsync(client, agentId, a, weights, result, ct);
    }

    /// <summary>The checkpoint of the attempt this assignment resumes, fetched by digest; null when none, or when the store lost it (then training restarts).</summary>
    private async Task<string?> FetchCheckpointAsync(AgentService.AgentServiceClient client, Assignment a, CancellationToken ct)
    {
        if (a.ResumeCheckpointDigest.Length == 0)
        {
            return null;
        }

        try
        {
            var path = await cache.GetAsync(client, a.ResumeCheckpointDigest, ct);
            LogResuming(a.LeaseId, a.ResumeCheckpointDigest);
            return path;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            LogCheckpointGone(a.LeaseId, a.ResumeCheckpointDigest);
            return null;
        }
    }

    /// <summary>
    /// Hands a yielded attempt back: uploads its checkpoint (lease-fenced, flagged as a checkpoint) and records the
    /// <see cref="ShardYielded"/> the worker sends. Without a stored checkpoint the next attempt restarts the shard.
    /// </summary>
    private async Task HandBackAsync(AgentService.AgentServiceClient client, string agentId, RunningShard shard, string? checkpoint, ShardYieldReport? report, CancellationToken ct)
    {
        var a = shard.Assignment;
        var digest = "";
        if (checkpoint is not null)
        {
            shard.Phase = "checkpointing";
            try
            {
                var summary = new ShardResult { Samples = report?.SamplesSeen ?? 0, FinalLoss = 0, EpochLosses = [], Seconds = 0, Device = "checkpoint" };
                digest = await UploadWithRetryAsync(client, agentId, a, checkpoint, summary, ct, isCheckpoint: true);
            }
            catch (RpcException e) when (e.StatusCode is not StatusCode.FailedPrecondition and not StatusCode.Cancelled)
            {
                LogCheckpointUploadFailed(a.LeaseId, $"{e.StatusCode}: {e.Status.Detail}");
            }
        }

        LogYielded(a.LeaseId, shard.YieldReason, digest.Length > 0 ? digest : "none");
        shard.Yielded = Preemption.Yielded(a, shard.YieldReason, digest, report);
    }

    private async Task<(ShardFailed? Failure, (ShardYieldReport? Report, bool Checkpoint)? Yielded)> TrainAsync(RunningShard shard, ShardTask task, string taskPath, string dir, CancellationToken ct)
    {
        var o = options.Value;
        var exe = o.TrainerExecutable ?? throw new InvalidOperationException("Agent:TrainerExecutable is not set: the rmtc CLI sets it to itself");
        using var group = ProcessGroup.Start(exe, [.. o.TrainerArguments, "--task", taskPath], dir);
        LogTrainerStarted(shard.Assignment.LeaseId, group.Id);
        var errors = new Queue<string>();
        var trainer = new TrainerLines();
        var stdout = PumpProgressAsync(group.Process.StandardOutput, shard, trainer);
        // SIGUSR1 only once the trainer handles it (it says "ready"): before that the signal's default action would kill it.
        using var onYield = shard.YieldRequested.Token.Register(() => trainer.Ready.Task.ContinueWith(_ => group.RequestYield(),
            CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default));
        var stderr = Task.Run(async () =>
        {
            await using var logFile = new StreamWriter(Path.Combine(dir, "trainer.log"));
            while (await group.Process.StandardError.ReadLineAsync(CancellationToken.None) is { } line)
            {
                await logFile.WriteLineAsync(line);
                lock (errors)
                {
                    errors.Enqueue(line);
                    if (errors.Count > 8)
                    {
                        errors.Dequeue();
                    }
                }
            }
        }, CancellationToken.None);

        try
        {
            await group.Process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            LogTrainerStopping(shard.Assignment.LeaseId, o.CancelGraceMs);
            await group.StopAsync(TimeSpan.FromMilliseconds(o.CancelGraceMs), time);
            throw;
        }

        await Task.WhenAll(stdout, stderr);
        var code = group.Process.ExitCode;
        // An evaluation writes only its figures; everything else writes weights too.
        if (code == 0 && (task.Kind == ShardTaskKinds.Evaluate || File.Exists(task.OutputPath)) && File.Exists(task.ResultPath))
        {
            // Finished before the yield reached it: a whole result beats a checkpoint.
            return (null, null);
        }

        if (code == TaskRefusal.ExitCode && File.Exists(task.ResultPath)
            && JsonSerializer.Deserialize<TaskRefusal>(await File.ReadAllTextAsync(task.ResultPath, CancellationToken.None), Json) is { Problems.Count: > 0 } refusal)
        {
            // The input itself is refused (a run's model file fails its check): final, with the problems as the reason.
            var refused = Failed(shard.Assignment, string.Join("; ", refusal.Problems));
            refused.InputRefused = true;
            return (refused, null);
        }

        if (shard.YieldRequested.IsCancellationRequested)
        {
            // Asked to yield: whatever the trainer managed, this is not a failure of the shard.
            return (null, (trainer.Yielded, code == Preemption.YieldedExitCode));
        }

        string tail;
        lock (errors)
        {
            tail = string.Join(" | ", errors);
        }

        return (Failed(shard.Assignment, $"trainer exited with code {code}: {(tail.Length > 0 ? tail : "no error output")}"), null);
    }

    private static async Task PumpProgressAsync(StreamReader output, RunningShard shard, TrainerLines trainer)
    {
        try
        {
            await PumpLinesAsync(output, shard, trainer);
        }
        finally
        {
            // A trainer that ended without saying "ready" gets no signal.
            trainer.Ready.TrySetCanceled();
        }
    }

    private static async Task PumpLinesAsync(StreamReader output, RunningShard shard, TrainerLines trainer)
    {
        while (await output.ReadLineAsync(CancellationToken.None) is { } line)
        {
            if (line.StartsWith("{\"ready\"", StringComparison.Ordinal))
            {
                trainer.Ready.TrySetResult();
                continue;
            }

            if (line.StartsWith("{\"yielded\"", StringComparison.Ordinal))
            {
                try
                {
                    trainer.Yielded = JsonSerializer.Deserialize<YieldedLine>(line, Json)?.Yielded;
                }
                catch (JsonException)
                {
                    // The checkpoint itself still says where training stood.
                }

                continue;
            }

            if (!line.StartsWith("{\"progress\"", StringComparison.Ordinal))
            {
                continue;
            }

            try
            {
                var p = JsonSerializer.Deserialize<ProgressLine>(line, Json)?.Progress;
                if (p is not null)
                {
                    shard.Progress = new ShardProgress
                    {
                        LeaseId = shard.Assignment.LeaseId,
                        LeaseEpoch = shard.Assignment.LeaseEpoch,
                        Phase = "training",
                        TrainingEpoch = (uint)p.Epoch,
                        TrainingEpochs = (uint)p.Epochs,
                        SamplesSeen = (ulong)p.SamplesSeen,
                        SamplesTotal = (ulong)p.SamplesTotal,
                        Loss = p.Loss,
                    };
                }
            }
            catch (JsonException)
            {
                // A malformed progress line costs one update, nothing more.
            }
        }
    }

    private sealed record ProgressLine(TrainingProgress? Progress);

    private sealed record YieldedLine(ShardYieldReport? Yielded);

    /// <summary>What the trainer said on stdout besides progress: that it handles SIGUSR1, and where it yielded.</summary>
    private sealed class TrainerLines
    {
        public TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ShardYieldReport? Yielded { get; set; }
    }

    /// <summary>
    /// Keeps trying while the coordinator is unreachable (a restart): it restores the lease from its store and takes
    /// the result then. Refusals (stale lease, bad weights) are answers, not outages, and are not retried.
    /// </summary>
    private async Task<string> UploadWithRetryAsync(AgentService.AgentServiceClient client, string agentId, Assignment a, string path, ShardResult result, CancellationToken ct, bool isCheckpoint = false)
    {
        var deadline = time.GetUtcNow() + TimeSpan.FromMinutes(5);
        var delay = TimeSpan.FromMilliseconds(500);
        while (true)
        {
            try
            {
                return await UploadAsync(client, agentId, a, path, result, ct, isCheckpoint);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown && time.GetUtcNow() < deadline)
            {
                LogUploadRetry(a.LeaseId, delay.TotalSeconds, e.Status.Detail);
                await Task.Delay(delay, time, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 10_000));
            }
        }
    }

    private async Task<string> UploadAsync(AgentService.AgentServiceClient client, string agentId, Assignment a, string path, ShardResult result, CancellationToken ct, bool isCheckpoint)
    {
        // Cached weights are stored under their digest (simulated results are the cached global weights).
        var digest = Path.GetFileNameWithoutExtension(path) is { } name && Sha256Digest.IsValid(name) && a.GlobalWeightsDigest == name ? name : Sha256Digest.OfFile(path);
        var length = new FileInfo(path).Length;
        var header = new UploadHeader
        {
            LeaseId = a.LeaseId,
            LeaseEpoch = a.LeaseEpoch,
            AgentId = agentId,
            Digest = digest,
            TotalBytes = (ulong)length,
            Samples = (ulong)result.Samples,
            FinalLoss = result.FinalLoss,
            TrainSeconds = result.Seconds,
            Device = result.Device,
            Checkpoint = isCheckpoint,
            TorchsharpVersion = result.TorchSharpVersion ?? "",
        };
        header.EpochLosses.AddRange(result.EpochLosses);

        using var call = client.UploadResult(cancellationToken: ct);
        await call.RequestStream.WriteAsync(new UploadResultRequest { Header = header }, ct);
        var chunkBytes = options.Value.ChunkBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(chunkBytes);
        try
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            int read;
            while ((read = await file.ReadAsync(buffer.AsMemory(0, chunkBytes), ct)) > 0)
            {
                await call.RequestStream.WriteAsync(new UploadResultRequest { Chunk = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, read)) }, ct);
            }

            await call.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (e is InvalidOperationException || e is RpcException { StatusCode: StatusCode.OK })
        {
            // The coordinator answered before taking every chunk (duplicate or refusal): its answer says which. A write
            // racing that answer fails with the call's own status, which is OK for a duplicate.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var response = await call.ResponseAsync;
        LogUploaded(a.LeaseId, digest, length, response.Duplicate);
        return digest;
    }

    private static ShardFailed Failed(Assignment a, string reason) => new()
    {
        LeaseId = a.LeaseId,
        LeaseEpoch = a.LeaseEpoch,
        Reason = reason.Length > 2000 ? reason[..2000] : reason,
    };

    private static void TryDeleteDirectory(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: trainer started as process group {Pid}")]
    private partial void LogTrainerStarted(string leaseId, int pid);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: stopping the trainer (SIGTERM, SIGKILL after {GraceMs} ms)")]
    private partial void LogTrainerStopping(string leaseId, int graceMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: result {Digest} uploaded ({Bytes} bytes, duplicate: {Duplicate})")]
    private partial void LogUploaded(string leaseId, string digest, long bytes, bool duplicate);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: coordinator unreachable for the upload, retrying in {Seconds:F1} s ({Detail})")]
    private partial void LogUploadRetry(string leaseId, double seconds, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: resuming from checkpoint {Digest}")]
    private partial void LogResuming(string leaseId, string digest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: checkpoint {Digest} is gone from the coordinator's store; the shard restarts from the global weights")]
    private partial void LogCheckpointGone(string leaseId, string digest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: the checkpoint could not be uploaded ({Detail}); the shard will restart from scratch")]
    private partial void LogCheckpointUploadFailed(string leaseId, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId} yielded to rendering ({Reason}); checkpoint {Digest}")]
    private partial void LogYielded(string leaseId, string reason, string digest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId} is stale, result dropped: {Detail}")]
    private partial void LogStale(string leaseId, string detail);
}
