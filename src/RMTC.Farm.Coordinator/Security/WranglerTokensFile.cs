using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>
/// The wranglers' tokens file (JSON, <c>Coordinator:WranglerTokensFile</c>):
/// <c>{"tokens": [{"token": "...", "user": "alice", "role": "wrangler", "shows": ["bigshow"]}, ...]}</c>.
/// Tokens are kept only as SHA-256 digests in memory, so a lookup's timing says nothing about a token's prefix.
/// </summary>
public static class WranglerTokensFile
{
    /// <summary>Shortest token accepted: shorter ones can be guessed.</summary>
    public const int MinTokenLength = 16;

    /// <summary>Reads and checks the file; throws <see cref="InvalidOperationException"/> naming the file, entry and fix.</summary>
    public static IReadOnlyDictionary<string, WranglerIdentity> Load(string path)
    {
        const string key = "Coordinator:WranglerTokensFile";
        FileShape? shape;
        try
        {
            shape = JsonSerializer.Deserialize(File.ReadAllText(path), WranglerTokensJson.Default.FileShape);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{key} {path}: cannot read it ({e.Message})");
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"{key} {path}:{(e.LineNumber + 1)}: not valid JSON ({e.Message}); expected {{\"tokens\": [{{\"token\": \"...\", \"user\": \"alice\", \"role\": \"wrangler\", \"shows\": [\"bigshow\"]}}]}}");
        }

        if (shape?.Tokens is not { Count: > 0 } entries)
        {
            throw new InvalidOperationException($"{key} {path}: no \"tokens\" list; expected {{\"tokens\": [{{\"token\": \"...\", \"user\": \"alice\", \"role\": \"wrangler\", \"shows\": [\"bigshow\"]}}]}}");
        }

        var byDigest = new Dictionary<string, WranglerIdentity>(StringComparer.Ordinal);
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            var where = $"{key} {path}: tokens[{i}]{(string.IsNullOrWhiteSpace(e.User) ? "" : $" (user {e.User})")}";
            if (string.IsNullOrWhiteSpace(e.Token) || e.Token.Trim().Length < MinTokenLength)
            {
                throw new InvalidOperationException($"{where}: \"token\" must be at least {MinTokenLength} characters (e.g. `openssl rand -hex 32`)");
            }

            if (string.IsNullOrWhiteSpace(e.User))
            {
                throw new InvalidOperationException($"{where}: \"user\" is required (recorded as the runs' submitted_by)");
            }

            var role = string.IsNullOrWhiteSpace(e.Role) ? WranglerRoles.Wrangler : e.Role.Trim();
            if (!WranglerRoles.All.Contains(role))
            {
                throw new InvalidOperationException($"{where}: \"role\" must be {string.Join(" or ", WranglerRoles.All)} (got '{e.Role}')");
            }

            var shows = (e.Shows ?? []).Where(s => !string.IsNullOrWhiteSpace(s)).Select(s => s.Trim()).ToHashSet(StringComparer.Ordinal);
            if (role == WranglerRoles.Wrangler && shows.Count == 0)
            {
                throw new InvalidOperationException($"{where}: a wrangler needs \"shows\": [\"...\"] (the shows whose jobs they may submit and see), or \"role\": \"admin\"");
            }

            if (!byDigest.TryAdd(Digest(e.Token.Trim()), new WranglerIdentity(e.User.Trim(), shows, role)))
            {
                throw new InvalidOperationException($"{where}: the same token appears twice; give every user their own");
            }
        }

        return byDigest;
    }

    /// <summary>The lookup key of a token.</summary>
    public static string Digest(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    internal sealed class FileShape
    {
        public List<Entry>? Tokens { get; set; }
    }

    internal sealed class Entry
    {
        public string? Token { get; set; }
        public string? User { get; set; }
        public string? Role { get; set; }
        public List<string>? Shows { get; set; }
    }
}

[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(WranglerTokensFile.FileShape))]
internal sealed partial class WranglerTokensJson : JsonSerializerContext;
