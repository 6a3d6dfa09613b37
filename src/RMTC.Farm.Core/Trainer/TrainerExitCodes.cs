namespace RMTC.Farm.Core.Trainer;

/// <summary>
/// Exit codes of <c>rmtc shard run</c>, read by the agent together with the trainer's last messages (sysexits.h where
/// one fits, 128 + signal for a stop).
/// </summary>
public static class TrainerExitCodes
{
    /// <summary>The task is done and its result message sent.</summary>
    public const int Completed = 0;

    /// <summary>Training failed (the error is on standard error and in a <see cref="TrainerError"/>).</summary>
    public const int Failed = 1;

    /// <summary>The task file could not be read.</summary>
    public const int BadTask = 2;

    /// <summary>The input is refused (EX_DATAERR): a run's model file that fails its check. Final, never retried.</summary>
    public const int Refused = Training.TaskRefusal.ExitCode;

    /// <summary>Stopped for rendering after writing a checkpoint (EX_TEMPFAIL); a <see cref="TrainerCheckpoint"/> says where.</summary>
    public const int Yielded = 75;

    /// <summary>Stopped by SIGTERM (a cancellation) between batches.</summary>
    public const int Cancelled = 143;
}
