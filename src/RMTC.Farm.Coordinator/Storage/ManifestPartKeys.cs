using System.Globalization;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// The keys of a manifest stored in parts. Positions are list positions (0-based), not round or shard numbers, so the
/// assembled lists are the written ones whatever their records say:
/// <list type="bullet">
/// <item><c>head</c>: the manifest without its rounds' shards, attempts and merged results and its tasks' attempts
/// (rounds and tasks written as empty lists, <c>tasks</c> absent when the manifest has none).</item>
/// <item><c>rK</c>: round K's record without its lists; <c>rK.sJ</c>: its shard record J; <c>rK.aJ</c>: its attempt J;
/// <c>rK.mJ</c>: its merged result J (a JSON string).</item>
/// <item><c>tK</c>: task K's record without its attempts; <c>tK.aJ</c>: its attempt J.</item>
/// </list>
/// </summary>
public static class ManifestPartKeys
{
    /// <summary>The manifest's own fields.</summary>
    public const string Head = "head";

    /// <summary>Round <paramref name="round"/>'s record (its lists empty).</summary>
    public static string Round(int round) => "r" + Number(round);

    /// <summary>Shard record <paramref name="shard"/> of round <paramref name="round"/>.</summary>
    public static string Shard(int round, int shard) => "r" + Number(round) + ".s" + Number(shard);

    /// <summary>Attempt <paramref name="attempt"/> (list position) of round <paramref name="round"/>.</summary>
    public static string Attempt(int round, int attempt) => "r" + Number(round) + ".a" + Number(attempt);

    /// <summary>Merged result <paramref name="position"/> of round <paramref name="round"/>.</summary>
    public static string Merged(int round, int position) => "r" + Number(round) + ".m" + Number(position);

    /// <summary>Task <paramref name="task"/>'s record (its attempts empty).</summary>
    public static string Task(int task) => "t" + Number(task);

    /// <summary>Attempt <paramref name="attempt"/> of task <paramref name="task"/>.</summary>
    public static string TaskAttempt(int task, int attempt) => "t" + Number(task) + ".a" + Number(attempt);

    private static string Number(int n) => n.ToString(CultureInfo.InvariantCulture);
}
