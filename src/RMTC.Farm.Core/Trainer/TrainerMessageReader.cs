namespace RMTC.Farm.Core.Trainer;

/// <summary>
/// The agent's end of the <see cref="TrainerProtocol"/>: reads the trainer's output line by line, checks that it opens
/// with a <see cref="TrainerHello"/> of this version, and hands back every message, or a problem for each line that is
/// not one (so a trainer that says something this agent does not understand is reported, never silently skipped).
/// </summary>
public sealed class TrainerMessageReader(TextReader input)
{
    /// <summary>The trainer's hello, once read.</summary>
    public TrainerHello? Hello { get; private set; }

    /// <summary>
    /// The next line: a message, or a problem with the line; null at the end of the output. Messages before the hello
    /// and a second hello are problems too.
    /// </summary>
    /// <exception cref="TrainerProtocolMismatchException">The trainer speaks another protocol version (or none).</exception>
    public async ValueTask<TrainerLine?> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (await input.ReadLineAsync(cancellationToken) is not { } line)
        {
            return null;
        }

        var read = TrainerProtocol.Parse(line);
        if (Hello is null && read.Message is null && IsUnversionedReady(line))
        {
            // What rmtc wrote before the protocol had versions: the same words meant other things then.
            throw new TrainerProtocolMismatchException(0, null);
        }

        switch (read.Message)
        {
            case TrainerHello hello when Hello is not null:
                return new TrainerLine(null, $"a second hello (protocol {hello.Protocol}) after the first");
            case TrainerHello hello when hello.Protocol != TrainerProtocol.Version:
                throw new TrainerProtocolMismatchException(hello.Protocol, hello.Rmtc);
            case TrainerHello hello:
                Hello = hello;
                return read;
            case { } message when Hello is null:
                return new TrainerLine(null, $"a \"{TypeOf(message)}\" message before the trainer's hello: {TrainerProtocol.Format(message)}");
            default:
                return read;
        }
    }

    private static bool IsUnversionedReady(string line) =>
        line.Replace(" ", "", StringComparison.Ordinal).StartsWith("{\"ready\":", StringComparison.Ordinal);

    private static string TypeOf(TrainerMessage message) => message switch
    {
        TrainerStarted => TrainerStarted.Type,
        TrainerProgress => TrainerProgress.Type,
        TrainerResult => TrainerResult.Type,
        TrainerEvaluation => TrainerEvaluation.Type,
        TrainerCheckpoint => TrainerCheckpoint.Type,
        TrainerError => TrainerError.Type,
        _ => TrainerHello.Type,
    };
}
