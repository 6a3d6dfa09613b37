using System.Globalization;
using System.Text.Json;

namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// The file store's manifest in parts, <c>run.parts.jsonl</c>: one line per write,
/// <c>{"version":"N","base":"M","removed":[keys],"parts":{key: part JSON, ...}}</c>, oldest first. A line without
/// <c>base</c> holds every part and starts the manifest afresh; reading replays the lines, a later part replacing an
/// earlier one. A torn last line (a crash mid-append) is a write that never landed and is ignored.
/// </summary>
internal static class ManifestPartsLog
{
    /// <summary>The parts a log holds after its last complete line.</summary>
    /// <param name="Version">The version of the last complete line.</param>
    /// <param name="Parts">Every part, by key.</param>
    /// <param name="Bytes">Bytes of the complete lines.</param>
    internal sealed record Replay(long Version, Dictionary<string, string> Parts, long Bytes);

    /// <summary>The line (newline included) recording <paramref name="parts"/>.</summary>
    public static byte[] Line(ManifestParts parts) =>
        Line(parts.Version, parts.Base, parts.Removed, parts.Written);

    /// <summary>One line holding every part: the whole manifest at <paramref name="version"/>.</summary>
    public static byte[] Compacted(long version, IReadOnlyDictionary<string, string> parts) =>
        Line(version, null, [], parts);

    /// <summary>Replays the log at <paramref name="path"/>; null when there is none.</summary>
    /// <exception cref="InvalidDataException">A complete line is not a write of parts.</exception>
    public static async Task<Replay?> ReadAsync(string path, CancellationToken cancellationToken)
    {
        byte[] bytes;
        try
        {
            // ReadWrite sharing: an append may be in progress; its bytes past what we read are simply not seen yet.
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            bytes = new byte[file.Length];
            await file.ReadExactlyAsync(bytes, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        var parts = new Dictionary<string, string>(StringComparer.Ordinal);
        long version = 0;
        var start = 0;
        var lines = 0;
        while (true)
        {
            var end = Array.IndexOf(bytes, (byte)'\n', start);
            if (end < 0)
            {
                // What follows the last newline (normally nothing) is a torn write.
                break;
            }

            lines++;
            try
            {
                version = Apply(bytes.AsMemory(start, end - start), parts);
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"line {lines} of {path} is not a write of manifest parts ({e.Message}); the stored manifest is damaged", e);
            }

            start = end + 1;
        }

        return lines == 0 ? null : new Replay(version, parts, start);
    }

    private static long Apply(ReadOnlyMemory<byte> line, Dictionary<string, string> parts)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        var version = long.Parse(root.GetProperty("version").GetString()!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        if (!root.TryGetProperty("base", out _))
        {
            parts.Clear();
        }

        foreach (var removed in root.GetProperty("removed").EnumerateArray())
        {
            parts.Remove(removed.GetString()!);
        }

        foreach (var part in root.GetProperty("parts").EnumerateObject())
        {
            parts[part.Name] = part.Value.GetRawText();
        }

        return version;
    }

    private static byte[] Line(long version, long? @base, IReadOnlyList<string> removed, IEnumerable<KeyValuePair<string, string>> written)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("version", version.ToString(CultureInfo.InvariantCulture));
            if (@base is { } b)
            {
                writer.WriteString("base", b.ToString(CultureInfo.InvariantCulture));
            }

            writer.WriteStartArray("removed");
            foreach (var key in removed)
            {
                writer.WriteStringValue(key);
            }

            writer.WriteEndArray();
            writer.WriteStartObject("parts");
            foreach (var (key, json) in written)
            {
                writer.WritePropertyName(key);
                // Parts are unindented JSON (ManifestPartJson), so the line stays one line.
                writer.WriteRawValue(json, skipInputValidation: true);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }
}
