using System.Text;

namespace RMTC.Farm.Core.Jobs;

/// <summary>A job spec is invalid. Each problem names the field, where it is, and how to fix it.</summary>
public sealed class JobSpecException : Exception
{
    /// <summary>Most problems the message lists; the rest are counted ("and N more").</summary>
    public const int MaxListedProblems = 20;

    /// <summary>
    /// Largest message, UTF-8 bytes. The message travels to the wrangler in a gRPC status, which is an HTTP/2 trailer
    /// (percent-encoded, so up to three times longer): kept far below the 16-64 KiB header limits of HTTP/2 peers, so a
    /// refusal can never arrive as a broken connection.
    /// </summary>
    public const int MaxMessageBytes = 8 * 1024;

    /// <summary>Longest single problem in the message, characters.</summary>
    private const int MaxProblemLength = 1_000;

    public JobSpecException(IReadOnlyList<string> problems)
        : base(Format(problems))
    {
        Problems = problems;
    }

    /// <summary>Each problem on its own, in the order found.</summary>
    public IReadOnlyList<string> Problems { get; }

    /// <summary>
    /// The problems as one bounded message: the first <see cref="MaxListedProblems"/> (each cut to a readable length),
    /// then how many more, never over <see cref="MaxMessageBytes"/>.
    /// </summary>
    public static string Format(IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (problems.Count == 1)
        {
            return Cut(problems[0]);
        }

        var sb = new StringBuilder($"the job spec has {problems.Count} problems:");
        var bytes = Encoding.UTF8.GetByteCount(sb.ToString());
        var listed = 0;
        // Room kept for the closing "and N more" line.
        const int reserve = 200;
        foreach (var problem in problems)
        {
            var line = "\n  - " + Cut(problem);
            var lineBytes = Encoding.UTF8.GetByteCount(line);
            if (listed == MaxListedProblems || bytes + lineBytes > MaxMessageBytes - reserve)
            {
                break;
            }

            sb.Append(line);
            bytes += lineBytes;
            listed++;
        }

        if (listed < problems.Count)
        {
            sb.Append("\n  - and ").Append(problems.Count - listed).Append(" more (fix these and check the spec again to see the rest)");
        }

        return sb.ToString();
    }

    private static string Cut(string problem) =>
        problem.Length <= MaxProblemLength ? problem : $"{problem[..(MaxProblemLength - 40)]}... ({problem.Length} characters)";
}
