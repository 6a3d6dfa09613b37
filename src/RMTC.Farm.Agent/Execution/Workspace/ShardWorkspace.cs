namespace RMTC.Farm.Agent.Execution.Workspace;

/// <summary>
/// An attempt's scratch folder, <c>WORK/shards/LEASE</c>: the task file, the trainer's output and log, a checkpoint.
/// Created only when something is written (a simulated shard writes nothing unless it yields); removed on dispose.
/// </summary>
public sealed class ShardWorkspace : IDisposable
{
    private ShardWorkspace(string directory) => Directory = directory;

    /// <summary>The folder's absolute path (it may not exist yet).</summary>
    public string Directory { get; }

    /// <summary>The workspace of <paramref name="leaseId"/> under <paramref name="workDirectory"/> (not created yet).</summary>
    public static ShardWorkspace For(string workDirectory, string leaseId) =>
        new(Path.Combine(Path.GetFullPath(workDirectory), "shards", leaseId.Replace('/', '_')));

    /// <summary>The path of <paramref name="name"/> in the folder.</summary>
    public string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>Creates the folder if it is not there yet; returns its path.</summary>
    public string Create()
    {
        System.IO.Directory.CreateDirectory(Directory);
        return Directory;
    }

    /// <summary>Removes the folder and everything in it; a file still held open elsewhere leaves it behind, harmlessly.</summary>
    public void Dispose()
    {
        try
        {
            if (System.IO.Directory.Exists(Directory))
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }
}
