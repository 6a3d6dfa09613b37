namespace RMTC.Farm.Agent.Execution.Supervision;

/// <summary>How to start one trainer process and how long it may take to stop.</summary>
/// <param name="LeaseId">The lease it runs for (named in the agent's log).</param>
/// <param name="Executable">The program (<c>Agent:TrainerExecutable</c>).</param>
/// <param name="Arguments">Its arguments, <c>--task FILE</c> included.</param>
/// <param name="WorkingDirectory">The attempt's folder; the trainer's stderr is kept there as <c>trainer.log</c>.</param>
/// <param name="CancelGrace">After SIGTERM, how long it may take before SIGKILL (<c>Agent:CancelGraceMs</c>).</param>
public sealed record TrainerLaunch(string LeaseId, string Executable, IReadOnlyList<string> Arguments, string WorkingDirectory, TimeSpan CancelGrace)
{
    /// <summary>Where the trainer's standard error is written, line by line.</summary>
    public string LogPath => Path.Combine(WorkingDirectory, "trainer.log");
}
