using RMTC.Farm.Agent.Execution.Supervision;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Agent.Execution.Trainer;

/// <summary>
/// What a warm trainer said about one task, gathered as it runs: progress relayed, the final message kept, the lines not
/// understood and the standard error of this task. <see cref="Ended"/> completes with the final message, or when the
/// trainer is gone.
/// </summary>
internal sealed class WarmTask(Action<TrainingProgress> onProgress, Action<TrainerStarted> onStarted)
{
    private const int ErrorTailLines = 8;
    private const int ProblemsKept = 8;
    private readonly Queue<string> _errors = new();
    private readonly List<string> _problems = [];
    private int _problemCount;

    /// <summary>Completes when the task ended, by its final message or the trainer's end.</summary>
    public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>True when the trainer ended (crashed, was killed or refused) instead of ending the task by a message.</summary>
    public bool EndedByExitCode { get; private set; }

    private TrainerResult? Result { get; set; }
    private TrainerEvaluation? Evaluation { get; set; }
    private TrainerCheckpoint? Checkpoint { get; set; }
    private TrainerError? Error { get; set; }
    private string? Refusal { get; set; }

    /// <summary>The exit code a cold trainer gives for the same final message.</summary>
    public int Code => (Result, Evaluation, Checkpoint, Error) switch
    {
        ({ }, _, _, _) or (_, { }, _, _) => TrainerExitCodes.Completed,
        (_, _, { }, _) => TrainerExitCodes.Yielded,
        (_, _, _, { Refused: true }) => TrainerExitCodes.Refused,
        (_, _, _, { Message: "cancelled" }) => TrainerExitCodes.Cancelled,
        _ => TrainerExitCodes.Failed,
    };

    public void Receive(TrainerMessage message)
    {
        switch (message)
        {
            case TrainerStarted started:
                onStarted(started);
                break;
            case TrainerProgress p:
                onProgress(p.Progress);
                break;
            case TrainerResult r:
                Result = r;
                Ended.TrySetResult();
                break;
            case TrainerEvaluation e:
                Evaluation = e;
                Ended.TrySetResult();
                break;
            case TrainerCheckpoint c:
                Checkpoint = c;
                Ended.TrySetResult();
                break;
            case TrainerError e:
                Error = e;
                Ended.TrySetResult();
                break;
        }
    }

    public void Refuse(string reason)
    {
        Refusal = reason;
        EndByExit();
    }

    public void EndByExit()
    {
        if (!Ended.Task.IsCompleted)
        {
            EndedByExitCode = true;
        }

        Ended.TrySetResult();
    }

    public void AddProblem(string problem)
    {
        lock (_problems)
        {
            if (_problems.Count < ProblemsKept)
            {
                _problems.Add(problem);
            }

            _problemCount++;
        }
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

    /// <summary>The task's end in the shape of a cold trainer's exit, so one reading (<see cref="TrainerShardRunner.Interpret"/>) serves both.</summary>
    public TrainerExit ToExit(int code, string? refusal)
    {
        string tail;
        lock (_errors)
        {
            var lines = _errors.ToList();
            // Its standard error may lag its final message: the error itself stands last, as a cold trainer's log ends.
            if (!EndedByExitCode && Error is { Refused: false } error && error.Message != "cancelled" && !lines.Contains($"error: {error.Message}"))
            {
                lines.Add($"error: {error.Message}");
            }

            tail = string.Join(" | ", lines.TakeLast(ErrorTailLines));
        }

        lock (_problems)
        {
            return new TrainerExit(code, Result, Evaluation, Checkpoint, Error, refusal ?? Refusal, [.. _problems], _problemCount, tail);
        }
    }
}
