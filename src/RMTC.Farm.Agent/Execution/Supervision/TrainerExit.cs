using RMTC.Farm.Core.Trainer;

namespace RMTC.Farm.Agent.Execution.Supervision;

/// <summary>
/// How a trainer process ended: its exit code, the last message of each final kind it sent, what it could not say in
/// the protocol, and the tail of its standard error.
/// </summary>
/// <param name="Code">The exit code (see <see cref="TrainerExitCodes"/>).</param>
/// <param name="Result">Its result message (weights made), if any.</param>
/// <param name="Evaluation">Its evaluation message, if any.</param>
/// <param name="Checkpoint">Where it stopped for rendering, if it did.</param>
/// <param name="Error">Its error message, if any.</param>
/// <param name="Refusal">Why the agent refused the trainer itself (another protocol version), when it did: then it was stopped.</param>
/// <param name="Problems">The first lines of its output that were not messages, each with what is wrong.</param>
/// <param name="ProblemCount">How many such lines in all.</param>
/// <param name="ErrorTail">Its last lines of standard error, joined by <c> | </c>.</param>
public sealed record TrainerExit(
    int Code,
    TrainerResult? Result,
    TrainerEvaluation? Evaluation,
    TrainerCheckpoint? Checkpoint,
    TrainerError? Error,
    string? Refusal,
    IReadOnlyList<string> Problems,
    int ProblemCount,
    string ErrorTail);
