namespace RMTC.Farm.Core.Trainer;

/// <summary>
/// The trainer speaks another version of the <see cref="TrainerProtocol"/> than this agent: its messages cannot be
/// trusted to mean what the agent reads, so the agent stops it and fails the attempt with this message.
/// </summary>
public sealed class TrainerProtocolMismatchException(int trainerVersion, string? trainerRmtc)
    : Exception(Describe(trainerVersion, trainerRmtc))
{
    /// <summary>The version the trainer said it speaks (0: the unversioned protocol before versions).</summary>
    public int TrainerVersion { get; } = trainerVersion;

    private static string Describe(int version, string? rmtc) =>
        $"the trainer speaks trainer protocol {version}{(rmtc is null ? "" : $" (rmtc {rmtc})")}"
        + $" but this agent speaks {TrainerProtocol.Version}: run the agent and its trainer from the same rmtc installation"
        + " (Agent:TrainerExecutable and Agent:TrainerArguments name the trainer; the rmtc CLI sets them to itself)";
}
