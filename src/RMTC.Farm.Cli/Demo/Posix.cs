using System.Runtime.InteropServices;

namespace RMTC.Farm.Cli.Demo;

/// <summary>The one signal .NET's Process cannot send: a polite SIGTERM.</summary>
internal static partial class Posix
{
    public static void Terminate(int pid) => _ = Kill(pid, 15);

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
