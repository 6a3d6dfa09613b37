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

    /// <summary>The lines to print: (what for, command), with this run's id and paths.</summary>
    public static IReadOnlyList<(string What, string Command)> For(string runId, string farmDir)
    {
        var steps = new List<(string, string)>();
        if (!OnPath())
        {
            steps.Add(("rmtc on PATH", $"{Script()}  (rmtc is not on PATH yet; this puts it in ~/.local/bin)"));
        }

        var explorer = $"http://127.0.0.1:{new CoordinatorOptions().MetricsPort}/explorer/run.html?id={runId}";
        steps.Add(("see this run", $"rmtc coordinator --data-dir {farmDir}  (the demo's store; leave it running, then in another shell:)"));
        steps.Add(("", $"rmtc lineage show {runId}"));
        steps.Add(("", $"rmtc status {runId}"));
        steps.Add(("", $"{explorer}  (the Explorer, in a browser)"));
        steps.Add(("a real farm", "rmtc coordinator on the scheduler host, rmtc agent on each node, then rmtc submit farm/jobs/denoiser.yaml --wait"));
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
