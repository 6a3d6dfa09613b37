using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Execution.Supervision;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution.Trainer;

/// <summary>
/// The warm runner (<c>Agent:Trainer:Mode = warm</c>): long-lived trainers (<c>rmtc trainer serve</c>), one per slot,
/// each fed a task per shard. A trainer that crashes, or does not stop within <c>Agent:CancelGraceMs</c> of a cancel,
/// is killed and replaced by a fresh one (the shard fails or is cancelled as with a cold trainer); a trainer is retired
/// after <c>Agent:Trainer:RecycleAfterShards</c> tasks, and when rmtc changed under it (its program files rewritten, or
/// a newer trainer announcing another rmtc version). Trainers start once the agent is connected, so the first shard finds one warm.
/// </summary>
public sealed partial class WarmTrainerPool(IOptions<AgentOptions> options, TimeProvider time, ILogger<WarmTrainerPool> log)
    : IShardRunner, IHostedService, IAsyncDisposable, IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<WarmTrainer> _idle = [];
    private readonly HashSet<WarmTrainer> _busy = [];
    private readonly List<Task> _retiring = [];
    private int _sequence;
    private (int Sequence, string? Rmtc)? _newest;
    private bool _stopped;
    private bool _prestarted;

    /// <summary>Trainer processes started so far (a replacement counts).</summary>
    public int TrainersStarted => Volatile.Read(ref _sequence);

    /// <summary>The pids of the trainers running a task now.</summary>
    public IReadOnlyList<int> BusyTrainers
    {
        get
        {
            lock (_gate)
            {
                return _busy.Select(t => t.Id).ToList();
            }
        }
    }

    /// <summary>The pids of the trainers waiting for a task (or still starting).</summary>
    public IReadOnlyList<int> IdleTrainers
    {
        get
        {
            lock (_gate)
            {
                return _idle.Select(t => t.Id).ToList();
            }
        }
    }

    /// <summary>Nothing: trainers start once the agent is connected (<see cref="Prestart"/>), not while the host starts.</summary>
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Starts a trainer per slot, without waiting for them, the first time the agent is connected: the first shard then
    /// finds one warm, and a node's start (its registration above all) does not compete with libtorch loading.
    /// </summary>
    public void Prestart()
    {
        var o = options.Value;
        if (!o.Trainer.IsWarm || o.SimulateTrainingMs > 0 || o.TrainerExecutable is null)
        {
            return;
        }

        lock (_gate)
        {
            if (_prestarted || _stopped)
            {
                return;
            }

            _prestarted = true;
            for (var i = Math.Max(1, o.Slots) - _idle.Count - _busy.Count; i > 0; i--)
            {
                _idle.Add(StartTrainer());
            }
        }
    }

    /// <summary>
    /// Stops every idle trainer at once (SIGKILL to its group: it holds no task, so nothing is lost, and a libtorch
    /// process takes a while to wind down), and waits for those being retired. A busy one is retired when its shard ends.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        List<WarmTrainer> idle;
        List<Task> waiting;
        lock (_gate)
        {
            _stopped = true;
            idle = [.. _idle];
            _idle.Clear();
            waiting = [.. _retiring];
        }

        foreach (var trainer in idle)
        {
            await trainer.DisposeAsync();
        }

        await Task.WhenAll(waiting).WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ShardRunOutcome> RunAsync(ShardAttempt attempt, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var shard = attempt.Shard;
        var a = shard.Assignment;
        attempt.Workspace.Create();
        var task = TrainerTasks.Create(a, attempt.Inputs, attempt.Workspace, o);
        var trainer = Take();
        var healthy = false;
        try
        {
            try
            {
                var hello = await trainer.WaitReadyAsync(TimeSpan.FromMilliseconds(o.Trainer.StartTimeoutMs), cancellationToken);
                NoteVersion(trainer, hello);
            }
            catch (TrainerProtocolMismatchException e)
            {
                return TrainerShardRunner.Interpret(new TrainerExit(TrainerExitCodes.Failed, null, null, null, null, e.Message, [], 0, ""), task, shard);
            }
            catch (IOException e)
            {
                return new ShardRunFailed(ShardFailures.Of(a, e.Message));
            }

            shard.Phase = a.Kind switch { TaskKind.Prepare => "preparing", TaskKind.Evaluate => "evaluating", _ => "training" };
            var exit = await trainer.RunAsync(a.LeaseId, task, p => TrainerShardRunner.Report(shard, p),
                s => TrainerShardRunner.LogFirstBatch(log, time, shard, s), shard.YieldRequested.Token, cancellationToken,
                TimeSpan.FromMilliseconds(o.CancelGraceMs));
            healthy = !trainer.Broken;
            if (!healthy)
            {
                LogTrainerLost(a.LeaseId, trainer.Id, exit.Code, trainer.LogPath);
            }

            return TrainerShardRunner.Interpret(exit, task, shard);
        }
        catch (OperationCanceledException)
        {
            healthy = !trainer.Broken;
            throw;
        }
        finally
        {
            Return(trainer, healthy);
        }
    }

    /// <summary>Kills whatever trainers are left (the agent is going; a graceful stop retired them already).</summary>
    public async ValueTask DisposeAsync()
    {
        List<WarmTrainer> left;
        lock (_gate)
        {
            _stopped = true;
            left = [.. _idle, .. _busy];
            _idle.Clear();
        }

        foreach (var trainer in left)
        {
            await trainer.DisposeAsync();
        }
    }

    /// <summary>Kills whatever trainers are left, for a container disposed synchronously.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>A ready trainer (else one still starting, else a new one), never one that is broken or stale.</summary>
    private WarmTrainer Take()
    {
        lock (_gate)
        {
            while (_idle.Count > 0)
            {
                var trainer = _idle.FirstOrDefault(t => t.Hello is not null) ?? _idle[0];
                _idle.Remove(trainer);
                if (trainer.Broken || Stale(trainer) is not null)
                {
                    LogRetiring(trainer.Id, trainer.Broken ? "it ended" : Stale(trainer)!);
                    Retire(trainer);
                    continue;
                }

                _busy.Add(trainer);
                return trainer;
            }

            var fresh = StartTrainer();
            _busy.Add(fresh);
            return fresh;
        }
    }

    /// <summary>Back to the idle trainers, or retired and replaced (broken, recycled, stale).</summary>
    private void Return(WarmTrainer trainer, bool healthy)
    {
        var recycle = options.Value.Trainer.RecycleAfterShards;
        lock (_gate)
        {
            _busy.Remove(trainer);
            var why = !healthy || trainer.Broken ? "it was killed or ended"
                : recycle > 0 && trainer.TasksRun >= recycle ? $"it ran {trainer.TasksRun} tasks (Agent:Trainer:RecycleAfterShards)"
                : Stale(trainer);
            if (why is null && !_stopped)
            {
                _idle.Add(trainer);
                return;
            }

            if (why is not null)
            {
                LogRetiring(trainer.Id, why);
            }

            Retire(trainer);
            if (!_stopped)
            {
                // Its replacement starts now, so the next shard finds it warm.
                _idle.Add(StartTrainer());
            }
        }
    }

    /// <summary>Why <paramref name="trainer"/> runs an rmtc that is no longer this node's; null when it does not.</summary>
    private string? Stale(WarmTrainer trainer)
    {
        if (!options.Value.Trainer.RecycleOnNewVersion)
        {
            return null;
        }

        if (trainer.ProgramStamp != ProgramStamp())
        {
            return "rmtc's program files changed since it started (Agent:Trainer:RecycleOnNewVersion)";
        }

        return _newest is { } newest && trainer.Hello is { } hello && newest.Sequence > trainer.Sequence && !string.Equals(newest.Rmtc, hello.Rmtc, StringComparison.Ordinal)
            ? $"it runs rmtc {hello.Rmtc ?? "(unknown)"} and a newer trainer announced rmtc {newest.Rmtc ?? "(unknown)"} (Agent:Trainer:RecycleOnNewVersion)"
            : null;
    }

    /// <summary>The newest trainer's rmtc version is the node's: older trainers announcing another are replaced.</summary>
    private void NoteVersion(WarmTrainer trainer, TrainerHello hello)
    {
        lock (_gate)
        {
            if (_newest is not { } newest || newest.Sequence < trainer.Sequence)
            {
                _newest = (trainer.Sequence, hello.Rmtc);
            }
        }
    }

    private WarmTrainer StartTrainer()
    {
        var o = options.Value;
        var exe = o.TrainerExecutable ?? throw new InvalidOperationException("Agent:TrainerExecutable is not set: the rmtc CLI sets it to itself");
        if (o.Trainer.ServeArguments.Count == 0)
        {
            throw new InvalidOperationException("Agent:Trainer:ServeArguments is empty: the rmtc CLI sets it to its own `trainer serve`");
        }

        var sequence = Interlocked.Increment(ref _sequence);
        var directory = Path.Combine(Path.GetFullPath(o.WorkDirectory), "trainers");
        string[] arguments = [.. o.Trainer.ServeArguments, "--cache-bytes", o.Trainer.CacheBytes.ToString(CultureInfo.InvariantCulture)];
        var trainer = WarmTrainer.Start(exe, arguments, directory, Path.Combine(directory, $"trainer-{sequence}.log"), sequence, ProgramStamp(), time, log);
        LogStarted(trainer.Id, sequence, o.Trainer.CacheBytes);
        return trainer;
    }

    private void Retire(WarmTrainer trainer)
    {
        var grace = TimeSpan.FromMilliseconds(options.Value.CancelGraceMs);
        _retiring.RemoveAll(t => t.IsCompleted);
        _retiring.Add(Task.Run(async () =>
        {
            await trainer.StopAsync(grace);
            await trainer.DisposeAsync();
        }));
    }

    /// <summary>The trainer's program files (the executable and the files among its arguments) by size and last write: an upgrade in place changes it.</summary>
    private string ProgramStamp()
    {
        var o = options.Value;
        return string.Join("|", new[] { o.TrainerExecutable ?? "" }.Concat(o.Trainer.ServeArguments)
            .Where(File.Exists)
            .Select(p => new FileInfo(p))
            .Select(f => $"{f.FullName}:{f.Length}:{f.LastWriteTimeUtc.Ticks}"));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Warm trainer {Pid} started (#{Sequence}, sample cache {CacheBytes} bytes)")]
    private partial void LogStarted(int pid, int sequence, long cacheBytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Warm trainer {Pid} retired: {Reason}")]
    private partial void LogRetiring(int pid, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: warm trainer {Pid} is gone (exit {Code}); a fresh one replaces it (its log: {LogPath})")]
    private partial void LogTrainerLost(string leaseId, int pid, int code, string logPath);
}
