using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>
/// Keeps jobs to datasets under <see cref="SecurityOptions.DatasetRoots"/> (and the data directory): a path is judged by
/// where it really is, every symlink along it and inside the dataset resolved, so neither <c>..</c> nor a link can
/// reach a file outside. No roots configured = no confinement (the embedded demo; a warning at start).
/// </summary>
public sealed class DatasetConfinement
{
    private const int MaxLinkHops = 40;
    private readonly IReadOnlyList<string> _roots;

    public DatasetConfinement(IOptions<SecurityOptions> security, IOptions<CoordinatorOptions> coordinator)
    {
        var configured = security.Value.DatasetRoots.Where(r => !string.IsNullOrWhiteSpace(r)).ToList();
        _roots = configured.Count == 0
            ? []
            : configured.Append(coordinator.Value.DataDirectory).Select(r => WithSeparator(RealPath(Path.GetFullPath(r)))).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>True when datasets are confined.</summary>
    public bool Enabled => _roots.Count > 0;

    /// <summary>The roots (real paths), for messages.</summary>
    public IReadOnlyList<string> Roots => _roots;

    /// <summary>
    /// Null when <paramref name="datasetDirectory"/> (absolute) and everything in it lie under a root; otherwise the
    /// refusal, naming the path, where it leads, the roots and the setting to change.
    /// </summary>
    public string? Check(string datasetDirectory)
    {
        if (!Enabled)
        {
            return null;
        }

        var real = RealPath(Path.GetFullPath(datasetDirectory));
        if (!Inside(real))
        {
            return Refusal(datasetDirectory, real);
        }

        if (!Directory.Exists(real))
        {
            // Missing: the run's own preparation reports it; nothing outside the roots can be read through it.
            return null;
        }

        // Links inside the dataset may point out of it: each must resolve under a root too.
        foreach (var entry in new DirectoryInfo(real).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true }))
        {
            if (entry.LinkTarget is not null)
            {
                var target = RealPath(entry.FullName);
                if (!Inside(target))
                {
                    return Refusal(entry.FullName, target);
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Null when the model file <paramref name="file"/> (absolute) really lies under a root; otherwise the refusal. The
    /// coordinator reads a spec's TorchScript file as it reads a dataset, so it is held to the same roots.
    /// </summary>
    public string? CheckModelFile(string file)
    {
        if (!Enabled)
        {
            return null;
        }

        var real = RealPath(Path.GetFullPath(file));
        return Inside(real) ? null : Refusal(file, real, "model file", "the model file");
    }

    private string Refusal(string path, string real, string what = "dataset path", string move = "the dataset") =>
        $"{what} {path}{(path == real ? "" : $" (really {real})")} lies outside the dataset roots ({string.Join(", ", _roots.Select(r => r.TrimEnd(Path.DirectorySeparatorChar)))}): " +
        $"move {move} under one of them, or ask the farm admin to add its directory to Coordinator:DatasetRoots";

    private bool Inside(string real)
    {
        var withSeparator = WithSeparator(real);
        return _roots.Any(r => withSeparator.StartsWith(r, StringComparison.Ordinal));
    }

    private static string WithSeparator(string path) => path.EndsWith(Path.DirectorySeparatorChar) ? path : path + Path.DirectorySeparatorChar;

    /// <summary>
    /// The path with every symlink along it resolved (as realpath(3) does; missing tails are kept as written).
    /// <paramref name="fullPath"/> is absolute and normalised, so <c>..</c> is already gone before links are followed.
    /// </summary>
    public static string RealPath(string fullPath)
    {
        var root = Path.GetPathRoot(fullPath) ?? "/";
        var pending = new Stack<string>(fullPath[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse());
        var current = root;
        var hops = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = Path.GetDirectoryName(current.TrimEnd(Path.DirectorySeparatorChar)) ?? root;
                continue;
            }

            var next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget is { } target)
            {
                if (++hops > MaxLinkHops)
                {
                    throw new IOException($"{fullPath}: too many levels of symbolic links");
                }

                // Resolve the target's own parts (it may be relative, and may hold links itself).
                var absolute = Path.IsPathRooted(target) ? target : Path.Combine(current, target);
                var targetRoot = Path.GetPathRoot(absolute) ?? root;
                foreach (var p in absolute[targetRoot.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse())
                {
                    pending.Push(p);
                }

                current = targetRoot;
                continue;
            }

            current = next;
        }

        return current;
    }
}
