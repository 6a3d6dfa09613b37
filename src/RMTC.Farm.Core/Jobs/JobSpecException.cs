namespace RMTC.Farm.Core.Jobs;

/// <summary>A job spec is invalid. Each problem names the field, where it is, and how to fix it.</summary>
public sealed class JobSpecException : Exception
{
    public JobSpecException(IReadOnlyList<string> problems)
        : base(problems.Count == 1 ? problems[0] : "the job spec has " + problems.Count + " problems:\n  - " + string.Join("\n  - ", problems))
    {
        Problems = problems;
    }

    /// <summary>Each problem on its own, in the order found.</summary>
    public IReadOnlyList<string> Problems { get; }
}
