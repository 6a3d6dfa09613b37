namespace RMTC.Farm.Cli.Commands;

/// <summary>How this program starts itself again (as the shard runner, or agents for the demo).</summary>
internal static class SelfLauncher
{
    /// <summary>The executable and leading arguments that run <c>rmtc</c> with <paramref name="arguments"/>.</summary>
    public static (string Executable, IReadOnlyList<string> Prefix) Command(params string[] arguments)
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell which program is running");
        var entry = typeof(SelfLauncher).Assembly.Location;
        // Run as `dotnet rmtc.dll ...` (tests, `dotnet run`) or as the apphost `rmtc ...`.
        if (Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return (process, [entry, .. arguments]);
        }

        return (process, arguments);
    }
}
