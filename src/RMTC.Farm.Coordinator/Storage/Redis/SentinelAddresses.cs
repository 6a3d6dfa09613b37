using System.Globalization;

namespace RMTC.Farm.Coordinator.Storage.Redis;

/// <summary>
/// The sentinels' addresses as <c>Coordinator:RedisSentinels</c> gives them: <c>host:port</c>, separated by commas,
/// optionally with StackExchange.Redis options among them (<c>password=…</c>, <c>ssl=true</c>), which apply to the
/// sentinels and the primary alike.
/// </summary>
public static class SentinelAddresses
{
    /// <summary>The client options among the entries (those with <c>=</c>), as a StackExchange.Redis configuration string.</summary>
    public static string Options(string list) =>
        string.Join(',', list.Split(',', StringSplitOptions.TrimEntries).Where(e => e.Contains('=', StringComparison.Ordinal)));

    /// <summary>Sentinel's own default port, taken when an address names none.</summary>
    public const int DefaultPort = 26379;

    /// <summary>
    /// Reads the list; every entry that is not an address is named in <paramref name="errors"/> with the fix.
    /// IPv6 addresses go in brackets (<c>[::1]:26379</c>).
    /// </summary>
    public static IReadOnlyList<(string Host, int Port)> Parse(string list, out List<string> errors)
    {
        errors = [];
        var result = new List<(string Host, int Port)>();
        foreach (var raw in list.Split(',', StringSplitOptions.TrimEntries))
        {
            if (raw.Contains('=', StringComparison.Ordinal))
            {
                // A client option, not an address (see Options).
                continue;
            }

            if (raw.Length == 0)
            {
                errors.Add($"Coordinator:RedisSentinels '{list}' has an empty entry: list the sentinels as host:port,host:port");
                continue;
            }

            var (host, port) = Split(raw);
            if (host.Length == 0 || host.Any(char.IsWhiteSpace))
            {
                errors.Add($"Coordinator:RedisSentinels entry '{raw}' is not host:port: name each sentinel by its host and port, e.g. redis-a.farm:26379");
            }
            else if (port is null)
            {
                errors.Add($"Coordinator:RedisSentinels entry '{raw}' has no port number: use host:port with a port from 1 to 65535 (Sentinel's default is {DefaultPort})");
            }
            else
            {
                result.Add((host, port.Value));
            }
        }

        if (result.Count == 0 && errors.Count == 0)
        {
            errors.Add($"Coordinator:RedisSentinels '{list}' names no sentinel: list them as host:port,host:port");
        }

        if (result.Count > 0 && result.Distinct().Count() != result.Count)
        {
            errors.Add($"Coordinator:RedisSentinels '{list}' names a sentinel twice: list each once");
        }

        return result;
    }

    private static (string Host, int? Port) Split(string entry)
    {
        string host;
        string? port;
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return ("", null);
            }

            host = entry[1..close];
            port = entry.Length > close + 1 ? (entry[close + 1] == ':' ? entry[(close + 2)..] : "") : null;
        }
        else
        {
            var colon = entry.LastIndexOf(':');
            if (colon >= 0 && entry.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                // A bare IPv6 address: the port cannot be told from the address.
                return ("", null);
            }

            host = colon < 0 ? entry : entry[..colon];
            port = colon < 0 ? null : entry[(colon + 1)..];
        }

        if (port is null)
        {
            return (host, DefaultPort);
        }

        return (host, int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 65535 ? p : null);
    }
}
