using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Cli.Demo;

/// <summary>
/// What a newcomer types after the demo: how to get <c>rmtc</c> on PATH when the demo ran through <c>dotnet run</c>,
/// and how to look at the run again, which needs a coordinator on the demo's store (the demo's own stopped with it).
/// </summary>
internal static class DemoNextSteps
{
    /// <summary>The install script, relative to a checkout.</summary>
    public const string InstallScript = "farm/scripts/install-rmtc.sh";

    /// <summary>The steps, with this run's id and paths: what for (blank: same as the line above), the command or address, a note.</summary>
    public static IReadOnlyList<NextStep> For(string runId, string farmDir)
    {
        var steps = new List<NextStep>();
        if (!OnPath())
        {
            steps.Add(new("rmtc on PATH", Script(), "rmtc is not on PATH yet; this puts it in ~/.local/bin"));
        }

        steps.Add(new("see this run", $"rmtc coordinator --data-dir {farmDir}", "the demo's store; leave it running, then in another shell:"));
        steps.Add(new("", $"rmtc lineage show {runId}", null));
        steps.Add(new("", $"rmtc status {runId}", null));
        steps.Add(new("", $"http://127.0.0.1:{new CoordinatorOptions().MetricsPort}/explorer/run.html?id={runId}", "the Explorer, in a browser"));
        steps.Add(new("a real farm", "rmtc submit farm/jobs/denoiser.yaml --wait", "with rmtc coordinator on the scheduler host and rmtc agent on each node"));
        return steps;
    }

    /// <summary>Whether a shell would find an <c>rmtc</c> executable.</summary>
    private static bool OnPath() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, "rmtc"))
        .Any(file => File.Exists(file) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(file) & UnixFileMode.UserExecute) != 0));

    /// <summary>The script's full path when this rmtc runs from a checkout's build (<c>dotnet run</c>), else its path in one.</summary>
    private static string Script()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var script = Path.Combine(dir.FullName, InstallScript);
            if (File.Exists(script))
            {
                return Path.GetRelativePath(Environment.CurrentDirectory, script) is var relative && !relative.StartsWith("..", StringComparison.Ordinal)
                    ? relative
                    : script;
            }
        }

        return $"{InstallScript} (in the RMTC.Farm checkout)";
    }
}

/// <summary>One step after the demo: what it is for, the command (or address), and a note for people.</summary>
internal sealed record NextStep(string What, string Command, string? Note);
