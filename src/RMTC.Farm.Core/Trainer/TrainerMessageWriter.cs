namespace RMTC.Farm.Core.Trainer;

/// <summary>
/// The trainer's end of the <see cref="TrainerProtocol"/>: writes each message as one line and flushes it at once, so
/// the agent sees progress as it happens. Safe to call from the training thread and a signal handler together.
/// </summary>
public sealed class TrainerMessageWriter(TextWriter output)
{
    private readonly Lock _gate = new();

    /// <summary>Writes the <see cref="TrainerHello"/> that must come first.</summary>
    /// <param name="rmtc">The trainer's rmtc version, shown if an agent refuses it; null when unknown.</param>
    public void WriteHello(string? rmtc) => Write(new TrainerHello(TrainerProtocol.Version, rmtc));

    /// <summary>Writes <paramref name="message"/> as one line and flushes.</summary>
    public void Write(TrainerMessage message)
    {
        var line = TrainerProtocol.Format(message);
        lock (_gate)
        {
            output.Write(line);
            output.Write('\n');
            output.Flush();
        }
    }
}
