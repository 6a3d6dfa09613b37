using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// How manifest parts are serialised: the manifest's own options (<see cref="RunManifest.JsonOptions"/>: names,
/// 64-bit integers as strings), unindented, and with the growing lists left empty when a manifest, round or task is
/// written as a part, because those lists' entries are parts of their own (<see cref="ManifestPartKeys"/>).
/// </summary>
public static class ManifestPartJson
{
    private static readonly List<RoundRecord> NoRounds = [];
    private static readonly List<TaskRecord> NoTasks = [];
    private static readonly List<ShardRecord> NoShards = [];
    private static readonly List<AttemptRecord> NoAttempts = [];
    private static readonly List<string> NoDigests = [];

    /// <summary>Options for every part, written and read.</summary>
    public static readonly JsonSerializerOptions Options = Build();

    /// <summary>The head part of <paramref name="manifest"/>.</summary>
    public static string Head(RunManifest manifest) => JsonSerializer.Serialize(manifest, Options);

    /// <summary>The part of <paramref name="round"/>'s own fields.</summary>
    public static string Round(RoundRecord round) => JsonSerializer.Serialize(round, Options);

    /// <summary>The part of <paramref name="task"/>'s own fields.</summary>
    public static string Task(TaskRecord task) => JsonSerializer.Serialize(task, Options);

    /// <summary>A shard record's part.</summary>
    public static string Shard(ShardRecord shard) => JsonSerializer.Serialize(shard, Options);

    /// <summary>An attempt's part.</summary>
    public static string Attempt(AttemptRecord attempt) => JsonSerializer.Serialize(attempt, Options);

    /// <summary>A merged result's part: the digest as a JSON string.</summary>
    public static string Digest(string digest) => JsonSerializer.Serialize(digest, Options);

    /// <summary>Every part of <paramref name="manifest"/>: what a whole write in parts holds.</summary>
    public static List<KeyValuePair<string, string>> Split(RunManifest manifest)
    {
        var parts = new List<KeyValuePair<string, string>> { new(ManifestPartKeys.Head, Head(manifest)) };
        for (var r = 0; r < manifest.Rounds.Count; r++)
        {
            var round = manifest.Rounds[r];
            parts.Add(new(ManifestPartKeys.Round(r), Round(round)));
            for (var i = 0; i < round.Shards.Count; i++)
            {
                parts.Add(new(ManifestPartKeys.Shard(r, i), Shard(round.Shards[i])));
            }

            for (var i = 0; i < round.Attempts.Count; i++)
            {
                parts.Add(new(ManifestPartKeys.Attempt(r, i), Attempt(round.Attempts[i])));
            }

            for (var i = 0; i < round.MergedResults.Count; i++)
            {
                parts.Add(new(ManifestPartKeys.Merged(r, i), Digest(round.MergedResults[i])));
            }
        }

        for (var t = 0; t < (manifest.Tasks?.Count ?? 0); t++)
        {
            var task = manifest.Tasks![t];
            parts.Add(new(ManifestPartKeys.Task(t), Task(task)));
            for (var i = 0; i < task.Attempts.Count; i++)
            {
                parts.Add(new(ManifestPartKeys.TaskAttempt(t, i), Attempt(task.Attempts[i])));
            }
        }

        return parts;
    }

    private static JsonSerializerOptions Build()
    {
        var options = new JsonSerializerOptions(RunManifest.JsonOptions)
        {
            WriteIndented = false,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { ListsAsParts } },
        };
        options.MakeReadOnly();
        return options;
    }

    /// <summary>Writes the lists whose entries are parts of their own as empty lists (reading is unchanged).</summary>
    private static void ListsAsParts(JsonTypeInfo info)
    {
        if (info.Type == typeof(RunManifest))
        {
            Empty(info, "rounds", _ => NoRounds);
            Empty(info, "tasks", m => ((RunManifest)m).Tasks is null ? null : NoTasks);
        }
        else if (info.Type == typeof(RoundRecord))
        {
            Empty(info, "shards", _ => NoShards);
            Empty(info, "attempts", _ => NoAttempts);
            Empty(info, "mergedResults", _ => NoDigests);
        }
        else if (info.Type == typeof(TaskRecord))
        {
            Empty(info, "attempts", _ => NoAttempts);
        }
    }

    private static void Empty(JsonTypeInfo info, string name, Func<object, object?> value)
    {
        var property = info.Properties.SingleOrDefault(p => p.Name == name)
            ?? throw new InvalidOperationException($"{info.Type.Name} has no property '{name}': update {nameof(ManifestPartJson)} with the manifest's shape");
        property.Get = value;
    }
}
