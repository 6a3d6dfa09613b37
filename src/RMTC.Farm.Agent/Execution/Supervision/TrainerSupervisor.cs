using Microsoft.Extensions.Logging;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Agent.Execution.Supervision;

/// <summary>
/// Runs one trainer process from start to exit, like RQD runs a frame: in a process group of its own, its output read as
/// the <see cref="TrainerProtocol"/>, its standard error kept in <c>trainer.log</c>. A yield request becomes SIGUSR1 once
/// the trainer said hello (it handles the signal from then on); cancellation becomes SIGTERM to the group and, after
/// the launch's grace, SIGKILL, so a hung trainer never outlives its attempt. A trainer that speaks another protocol
/// version is stopped the same way and the exit says why.
/// </summary>
public sealed partial class TrainerSupervisor(TimeProvider time, ILogger<TrainerSupervisor> log)
{
    /// <summary>Lines of standard error kept for a failure's reason.</summary>
    private const int ErrorTailLines = 8;

    /// <summary>Lines not understood that are logged one by one (then only counted) and kept in the exit.</summary>
    private const int ProblemsLogged = 8;

    /// <summary>
    /// Starts the trainer and waits for its exit. <paramref name="onProgress"/> gets each progress report as it comes.
    /// Cancelling <paramref name="cancellationToken"/> stops the trainer (SIGTERM, SIGKILL after the grace) and throws
    /// <see cref="OperationCanceledException"/> once it is gone. <paramref name="onStarted"/> gets the trainer's word that
    /// training begins (its first batch is next).
    /// </summary>
    public async Task<TrainerExit> RunAsync(TrainerLaunch launch, Action<TrainingProgress> onProgress, CancellationToken yieldRequested, CancellationToken cancellationToken,
        Action<TrainerStarted>? onStarted = null)
    {
        using var group = ProcessGroup.Start(launch.Executable, launch.Arguments, launch.WorkingDirectory);
        LogTrainerStarted(launch.LeaseId, group.Id);
        var output = new TrainerOutput();
        var stdout = ReadMessagesAsync(group, launch, output, onProgress, onStarted);
        // SIGUSR1 only once the trainer handles it (it says hello): before that the signal's default action would kill it.
        using var onYield = yieldRequested.Register(() => output.Ready.Task.ContinueWith(_ => group.RequestYield(),
            CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default));
        var stderr = KeepErrorsAsync(group, launch.LogPath, output);

        try
        {
            await group.Process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            LogTrainerStopping(launch.LeaseId, (int)launch.CancelGrace.TotalMilliseconds);
            await group.StopAsync(launch.CancelGrace, time);
            throw;
        }

        await Task.WhenAll(stdout, stderr);
        if (output.ProblemCount > ProblemsLogged)
        {
            LogLinesNotUnderstood(launch.LeaseId, output.ProblemCount);
        }

        return output.ToExit(group.Process.ExitCode);
    }

    private async Task ReadMessagesAsync(ProcessGroup group, TrainerLaunch launch, TrainerOutput output, Action<TrainingProgress> onProgress, Action<TrainerStarted>? onStarted)
    {
        var reader = new TrainerMessageReader(group.Process.StandardOutput);
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
                    // Its words may mean other things: nothing it says can be trusted, so it is stopped, not listened to.
                    output.Refusal = e.Message;
                    LogTrainerRefused(launch.LeaseId, e.Message);
                    output.Ready.TrySetCanceled();
                    await group.StopAsync(launch.CancelGrace, time);
                    await group.Process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                    return;
                }

                if (read is not { } line)
                {
                    return;
                }

                if (line.Problem is { } problem)
                {
                    if (output.AddProblem(problem) <= ProblemsLogged)
                    {
                        LogLineNotUnderstood(launch.LeaseId, problem);
                    }

                    continue;
                }

                switch (line.Message)
                {
                    case TrainerHello:
                        output.Ready.TrySetResult();
                        break;
                    case TrainerStarted started:
                        onStarted?.Invoke(started);
                        break;
                    case TrainerProgress p:
                        onProgress(p.Progress);
                        break;
                    case TrainerResult r:
                        output.Result = r;
                        break;
                    case TrainerEvaluation e:
                        output.Evaluation = e;
                        break;
                    case TrainerCheckpoint c:
                        output.Checkpoint = c;
                        break;
                    case TrainerError e:
                        output.Error = e;
                        break;
                }
            }
        }
        finally
        {
            // A trainer that ended without its hello gets no signal.
            output.Ready.TrySetCanceled();
        }
    }

    private static Task KeepErrorsAsync(ProcessGroup group, string logPath, TrainerOutput output) => Task.Run(async () =>
    {
        await using var logFile = new StreamWriter(logPath);
        while (await group.Process.StandardError.ReadLineAsync(CancellationToken.None) is { } line)
        {
            await logFile.WriteLineAsync(line);
            output.AddErrorLine(line);
        }
    }, CancellationToken.None);

    /// <summary>What the trainer said, gathered as it runs (messages by the stdout reader, error lines by the stderr reader).</summary>
    private sealed class TrainerOutput
    {
        private readonly Queue<string> _errors = new();
        private readonly List<string> _problems = [];

        public TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TrainerResult? Result { get; set; }
        public TrainerEvaluation? Evaluation { get; set; }
        public TrainerCheckpoint? Checkpoint { get; set; }
        public TrainerError? Error { get; set; }
        public string? Refusal { get; set; }
        public int ProblemCount { get; private set; }

        /// <summary>Counts the problem, keeps the first few; returns how many there are now.</summary>
        public int AddProblem(string problem)
        {
            if (_problems.Count < ProblemsLogged)
            {
                _problems.Add(problem);
            }

            return ++ProblemCount;
        }

        public void AddErrorLine(string line)
        {
            lock (_errors)
            {
                _errors.Enqueue(line);
                if (_errors.Count > ErrorTailLines)
                {
                    _errors.Dequeue();
                }
            }
        }

        public TrainerExit ToExit(int code)
        {
            string tail;
            lock (_errors)
            {
                tail = string.Join(" | ", _errors);
            }

            return new TrainerExit(code, Result, Evaluation, Checkpoint, Error, Refusal, [.. _problems], ProblemCount, tail);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: trainer started as process group {Pid}")]
    private partial void LogTrainerStarted(string leaseId, int pid);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {LeaseId}: stopping the trainer (SIGTERM, SIGKILL after {GraceMs} ms)")]
    private partial void LogTrainerStopping(string leaseId, int graceMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Lease {LeaseId}: trainer refused and stopped: {Reason}")]
    private partial void LogTrainerRefused(string leaseId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: trainer output not understood: {Problem}")]
    private partial void LogLineNotUnderstood(string leaseId, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {LeaseId}: {Count} lines of trainer output not understood in all (the first are logged above)")]
    private partial void LogLinesNotUnderstood(string leaseId, int count);
}
