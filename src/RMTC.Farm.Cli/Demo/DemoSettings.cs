namespace RMTC.Farm.Cli.Demo;

/// <summary>What <c>rmtc demo</c> was asked for.</summary>
internal sealed record DemoSettings
{
    public int Agents { get; init; } = 3;
    public int Rounds { get; init; } = 3;
    public int Shards { get; init; } = 3;
    public string Recipe { get; init; } = "denoiser";
    public int Samples { get; init; } = 1200;
    public string Merge { get; init; } = "fedavg";
    public required string Output { get; init; }
    public bool Json { get; init; }
    /// <summary>Keep the coordinator (and its Explorer) serving after the run until Ctrl+C.</summary>
    public bool Explore { get; init; }
}
