using System.Globalization;
using System.Text.Json;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// Puts a manifest stored in parts (<see cref="ManifestPartKeys"/>) back together: the same <see cref="RunManifest"/>
/// that was split, lists in their written order. A missing or unknown part is damage, reported with the part's key.
/// </summary>
public static class ManifestAssembly
{
    /// <summary>The manifest the parts make.</summary>
    /// <param name="parts">Every stored part, by key, in any order.</param>
    /// <param name="where">Where the parts were read (a Redis key, a file), for error messages.</param>
    /// <exception cref="InvalidDataException">A part is missing, unknown or not the JSON of its record.</exception>
    public static RunManifest Assemble(IEnumerable<KeyValuePair<string, string>> parts, string where)
    {
        string? head = null;
        var rounds = new Dictionary<int, ListParts>();
        var tasks = new Dictionary<int, ListParts>();
        foreach (var (key, json) in parts)
        {
            if (key == ManifestPartKeys.Head)
            {
                head = json;
                continue;
            }

            if (!TryParse(key, out var owner, out var index, out var kind, out var position))
            {
                throw new InvalidDataException($"{where}: '{key}' is not a manifest part (expected head, rK, rK.sJ, rK.aJ, rK.mJ, tK or tK.aJ); the stored manifest is damaged");
            }

            var lists = owner == 'r' ? rounds : tasks;
            if (!lists.TryGetValue(index, out var list))
            {
                lists[index] = list = new ListParts();
            }

            switch (kind)
            {
                case '\0':
                    list.Own = json;
                    break;
                case 's' when owner == 'r':
                    list.Shards[position] = json;
                    break;
                case 'a':
                    list.Attempts[position] = json;
                    break;
                case 'm' when owner == 'r':
                    list.Merged[position] = json;
                    break;
                default:
                    throw new InvalidDataException($"{where}: '{key}' is not a manifest part; the stored manifest is damaged");
            }
        }

        var manifest = Read<RunManifest>(head ?? throw new InvalidDataException($"{where}: the manifest's head part is missing; the stored manifest is damaged"), ManifestPartKeys.Head, where);
        manifest.Rounds = new List<RoundRecord>(rounds.Count);
        for (var r = 0; r < rounds.Count; r++)
        {
            var list = Entry(rounds, r, ManifestPartKeys.Round(r), where);
            var round = Read<RoundRecord>(list.Own ?? throw Missing(ManifestPartKeys.Round(r), where), ManifestPartKeys.Round(r), where);
            round.Shards = Sequence(list.Shards, i => ManifestPartKeys.Shard(r, i), (json, key) => Read<ShardRecord>(json, key, where), where);
            round.Attempts = Sequence(list.Attempts, i => ManifestPartKeys.Attempt(r, i), (json, key) => Read<AttemptRecord>(json, key, where), where);
            round.MergedResults = Sequence(list.Merged, i => ManifestPartKeys.Merged(r, i), (json, key) => Read<string>(json, key, where), where);
            manifest.Rounds.Add(round);
        }

        if (tasks.Count > 0)
        {
            manifest.Tasks ??= new List<TaskRecord>(tasks.Count);
            for (var t = 0; t < tasks.Count; t++)
            {
                var list = Entry(tasks, t, ManifestPartKeys.Task(t), where);
                var task = Read<TaskRecord>(list.Own ?? throw Missing(ManifestPartKeys.Task(t), where), ManifestPartKeys.Task(t), where);
                task.Attempts = Sequence(list.Attempts, i => ManifestPartKeys.TaskAttempt(t, i), (json, key) => Read<AttemptRecord>(json, key, where), where);
                manifest.Tasks.Add(task);
            }
        }

        return manifest;
    }

    private static ListParts Entry(Dictionary<int, ListParts> lists, int index, string key, string where) =>
        lists.TryGetValue(index, out var list) ? list : throw Missing(key, where);

    private static List<T> Sequence<T>(Dictionary<int, string> entries, Func<int, string> keyOf, Func<string, string, T> read, string where)
    {
        var list = new List<T>(entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var key = keyOf(i);
            list.Add(read(entries.TryGetValue(i, out var json) ? json : throw Missing(key, where), key));
        }

        return list;
    }

    private static InvalidDataException Missing(string key, string where) =>
        new($"{where}: manifest part '{key}' is missing while later ones exist; the stored manifest is damaged");

    private static T Read<T>(string json, string key, string where)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, ManifestPartJson.Options) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{where}: manifest part '{key}' is not a {typeof(T).Name}: {e.Message}", e);
        }
    }

    /// <summary>Parses <c>rK</c>, <c>rK.xJ</c>, <c>tK</c>, <c>tK.aJ</c>; <paramref name="kind"/> is <c>'\0'</c> for the record itself.</summary>
    private static bool TryParse(string key, out char owner, out int index, out char kind, out int position)
    {
        owner = key.Length > 1 ? key[0] : '\0';
        kind = '\0';
        index = position = 0;
        if (owner is not ('r' or 't'))
        {
            return false;
        }

        var dot = key.IndexOf('.', StringComparison.Ordinal);
        var first = dot < 0 ? key.AsSpan(1) : key.AsSpan(1, dot - 1);
        if (!Natural(first, out index))
        {
            return false;
        }

        if (dot < 0)
        {
            return true;
        }

        if (key.Length < dot + 3)
        {
            return false;
        }

        kind = key[dot + 1];
        return kind is 's' or 'a' or 'm' && Natural(key.AsSpan(dot + 2), out position);
    }

    private static bool Natural(ReadOnlySpan<char> digits, out int value) =>
        int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value) && (digits.Length == 1 || digits[0] != '0');

    private sealed class ListParts
    {
        public string? Own { get; set; }
        public Dictionary<int, string> Shards { get; } = new();
        public Dictionary<int, string> Attempts { get; } = new();
        public Dictionary<int, string> Merged { get; } = new();
    }
}
