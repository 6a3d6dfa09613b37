using Microsoft.Extensions.Logging;
using RMTC.Farm.Agent.Execution.Supervision;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Agent.Execution.Trainer;

/// <summary>
/// One long-lived trainer process (<c>rmtc trainer serve</c>) in a process group of its own: tasks go to its standard
/// input as <see cref="TrainerRequest"/>s, its answers are read as the <see cref="TrainerProtocol"/>, its standard error
/// is kept in its own log. A task ends with its final message; a trainer that dies, or does not stop within the grace
/// after a cancel, ends the task by its exit and is <see cref="Broken"/>: the pool never gives it another task.
/// </summary>
public sealed partial class WarmTrainer : IAsyncDisposable
{
    private const int ErrorTailLines = 8;
    private const int ProblemsLogged = 8;

    private readonly ProcessGroup _group;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly TaskCompletionSource<TrainerHello> _hello = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _input = new(1, 1);
    private readonly Lock _gate = new();
    private readonly Task _stdout;
    private readonly Task _stderr;
    private readonly Queue<string> _lastLines = new();
    private WarmTask? _task;
    private volatile bool _broken;

    private WarmTrainer(ProcessGroup group, int sequence, string programStamp, string logPath, TimeProvider time, ILogger log)
    {
        _group = group;
        Sequence = sequence;
        ProgramStamp = programStamp;
        LogPath = logPath;
        _time = time;
        _log = log;
        _stdout = Task.Run(ReadMessagesAsync, CancellationToken.None);
        _stderr = Task.Run(KeepErrorsAsync, CancellationToken.None);
    }

    /// <summary>The trainer's pid, also its process group id.</summary>
    public int Id => _group.Id;

    /// <summary>The order in which the pool started it (a later one knows a newer rmtc, if any changed).</summary>
    public int Sequence { get; }

    /// <summary>The rmtc program files as they were when it started (see <see cref="WarmTrainerPool"/>).</summary>
    public string ProgramStamp { get; }

    /// <summary>Its standard error, line by line.</summary>
    public string LogPath { get; }

    /// <summary>Tasks given to it so far.</summary>
    public int TasksRun { get; private set; }

    /// <summary>Its hello, once it said it; null before.</summary>
    public TrainerHello? Hello => _hello.Task.IsCompletedSuccessfully ? _hello.Task.Result : null;

    /// <summary>Killed, crashed or refused: it must not get another task.</summary>
    public bool Broken => _broken || _group.Process.HasExited;

    /// <summary>Starts <paramref name="executable"/> with <paramref name="arguments"/> in a process group of its own, its standard error into <paramref name="logPath"/>.</summary>
    public static WarmTrainer Start(string executable, IReadOnlyList<string> arguments, string workingDirectory, string logPath, int sequence, string programStamp,
        TimeProvider time, ILogger log)
    {
        Directory.CreateDirectory(workingDirectory);
        var group = ProcessGroup.Start(executable, arguments, workingDirectory, redirectInput: true);
        return new WarmTrainer(group, sequence, programStamp, logPath, time, log);
    }

    /// <summary>Waits for the trainer's hello, at most <paramref name="timeout"/>.</summary>
    /// <exception cref="TrainerProtocolMismatchException">It speaks another protocol version (it is stopped).</exception>
    /// <exception cref="IOException">It ended, or said nothing in time (it is killed), before its hello.</exception>
    public async Task<TrainerHello> WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = new CancellationTokenSource(timeout, _time);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, cancellationToken);
        try
        {
            return await _hello.Task.WaitAsync(both.Token);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            _broken = true;
            _group.Kill();
            throw new IOException($"the warm trainer (pid {Id}) said no hello within {timeout.TotalSeconds:F0} s (Agent:Trainer:StartTimeoutMs); it was killed; its log: {Tail()}");
        }
    }

    /// <summary>
    /// Runs one task and returns how it ended, as a cold trainer's exit would say it. Cancelling sends a cancel and waits
    /// for the task's end at most <paramref name="grace"/>; then the whole group is killed. Either way the cancellation
    /// throws <see cref="OperationCanceledException"/> once the task is over.
    /// </summary>
    public async Task<TrainerExit> RunAsync(string id, ShardTask task, Action<TrainingProgress> onProgress, Action<TrainerStarted> onStarted,
        CancellationToken yieldRequested, CancellationToken cancellationToken, TimeSpan grace)
    {
        var run = new WarmTask(onProgress, onStarted);
        lock (_gate)
        {
            _task = run;
        }

        TasksRun++;
        if (_group.Process.HasExited)
        {
            run.EndByExit();
        }

        try
        {
            await SendAsync(new TrainerTaskRequest(id, task));
            // Registered once the task is on its way, so the yield never overtakes it.
            using var onYield = yieldRequested.Register(() => _ = SendAsync(new TrainerYieldRequest(id)));
            try
            {
                await run.Ended.Task.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await StopTaskAsync(id, run, grace);
                throw;
            }
        }
        finally
        {
            lock (_gate)
            {
                if (_task == run)
                {
                    _task = null;
                }
            }
        }

        if (!run.EndedByExitCode)
        {
            return run.ToExit(run.Code, null);
        }

        // It died under the task: its exit code and its last words are the reason, as for a cold trainer.
        _broken = true;
        await _group.Process.WaitForExitAsync(CancellationToken.None);
        await Task.WhenAll(_stdout, _stderr);
        return run.ToExit(_group.Process.ExitCode, null);
    }

    /// <summary>
    /// Retires the trainer: closes its input (it ends after its current task), and kills its group if it is still there
    /// after <paramref name="grace"/>.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        try
        {
            await _input.WaitAsync();
            try
            {
                _group.Process.StandardInput.Close();
            }
            finally
            {
                _input.Release();
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
        }

        using var limit = new CancellationTokenSource(grace, _time);
        try
        {
            await _group.Process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            _group.Kill();
            await _group.Process.WaitForExitAsync(CancellationToken.None);
        }

        await Task.WhenAll(_stdout, _stderr);
    }

    /// <summary>SIGKILL to the whole group at once (a trainer that must not outlive the agent).</summary>
    public void Kill()
    {
        _broken = true;
        _group.Kill();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_group.Process.HasExited)
        {
            Kill();
            await _group.Process.WaitForExitAsync(CancellationToken.None);
        }

        await Task.WhenAll(_stdout, _stderr);
        _group.Dispose();
        _input.Dispose();
    }

    private async Task StopTaskAsync(string id, WarmTask run, TimeSpan grace)
    {
        LogCancelling(id, Id, (int)grace.TotalMilliseconds);
        await SendAsync(new TrainerCancelRequest(id));
        using var limit = new CancellationTokenSource(grace, _time);
        try
        {
            await run.Ended.Task.WaitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            // Hung (or too slow to reach its next batch): the group goes, and a fresh trainer takes its place.
            LogKilled(id, Id, (int)grace.TotalMilliseconds);
            Kill();
            await _group.Process.WaitForExitAsync(CancellationToken.None);
        }

        if (run.EndedByExitCode)
        {
            _broken = true;
        }
    }

    /// <summary>Writes one request; a trainer that is gone makes the task end by its exit, which says why.</summary>
    private async Task SendAsync(TrainerRequest request)
    {
        await _input.WaitAsync();
        try
        {
            var stdin = _group.Process.StandardInput;
            await stdin.WriteAsync(TrainerProtocol.Format(request) + "\n");
            await stdin.FlushAsync();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
            LogInputLost(Id, e.Message);
        }
        finally
        {
            _input.Release();
        }
    }

    private WarmTask? Current()
    {
        lock (_gate)
        {
            return _task;
        }
    }

    private async Task ReadMessagesAsync()
    {
        var reader = new TrainerMessageReader(_group.Process.StandardOutput);
        var problems = 0;
        try
        {
            while (true)
            {
                TrainerLine? read;
                try
                {
                    read = await reader.ReadAsync(CancellationToken.None);
                }
                catch (TrainerProtocolMismatchException e)
                {
                    // Its words may mean other things: it is stopped, not listened to.
                    _broken = true;
                    _hello.TrySetException(e);
                    Current()?.Refuse(e.Message);
                    _group.Kill();
                    await _group.Process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                    return;
                }

                if (read is not { } line)
                {
                    return;
                }

                if (line.Problem is { } problem)
                {
                    Current()?.AddProblem(problem);
                    if (++problems <= ProblemsLogged)
                    {
                        LogLineNotUnderstood(Id, problem);
                    }

                    continue;
                }

                if (line.Message is TrainerHello hello)
                {
                    _hello.TrySetResult(hello);
                }
                else if (line.Message is { } message)
                {
                    Current()?.Receive(message);
                }
            }
        }
        finally
        {
            _hello.TrySetException(new IOException($"the warm trainer (pid {Id}) ended before its hello: {Tail()}"));
            Current()?.EndByExit();
        }
    }

    private async Task KeepErrorsAsync()
    {
        await using var logFile = new StreamWriter(LogPath) { AutoFlush = true };
        while (await _group.Process.StandardError.ReadLineAsync(CancellationToken.None) is { } line)
        {
            await logFile.WriteLineAsync(line);
            Current()?.AddErrorLine(line);
            lock (_lastLines)
            {
                _lastLines.Enqueue(line);
                if (_lastLines.Count > ErrorTailLines)
                {
                    _lastLines.Dequeue();
                }
            }
        }
    }

    /// <summary>Its last lines of standard error, for a failure that happened outside a task.</summary>
    private string Tail()
    {
        lock (_lastLines)
        {
            return _lastLines.Count > 0 ? string.Join(" | ", _lastLines) : "no error output";
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: cancelling the task on warm trainer {Pid} (its group is killed if the task has not ended after {GraceMs} ms)")]
    private partial void LogCancelling(string leaseId, int pid, int graceMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: warm trainer {Pid} did not end the task within {GraceMs} ms of the cancel: its process group was killed")]
    private partial void LogKilled(string leaseId, int pid, int graceMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warm trainer {Pid}: its input is gone ({Detail})")]
    private partial void LogInputLost(int pid, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warm trainer {Pid}: output not understood: {Problem}")]
    private partial void LogLineNotUnderstood(int pid, string problem);
}
