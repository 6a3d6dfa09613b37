namespace RMTC.Farm.Protos.Client;

/// <summary>
/// A list of coordinator addresses (the leader and its standbys) as clients take it: comma-separated in one setting
/// (<c>http://a:7460,http://b:7460</c>), with <c>http://</c> assumed where no scheme is given.
/// </summary>
public static class CoordinatorAddresses
{
    /// <summary>
    /// The addresses in <paramref name="text"/>, in order, without duplicates. Throws <see cref="FormatException"/>
    /// naming <paramref name="setting"/> and the bad entry when one is not an http(s) address.
    /// </summary>
    public static IReadOnlyList<string> Parse(string? text, string setting)
    {
        var addresses = new List<string>();
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var address = part.Contains("://", StringComparison.Ordinal) ? part : "http://" + part;
            if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https") || uri.Host.Length == 0)
            {
                throw new FormatException($"{setting}: '{part}' is not a coordinator address: use e.g. http://10.0.0.5:7460, several separated by commas");
            }

            var normal = uri.GetLeftPart(UriPartial.Authority);
            if (!addresses.Contains(normal, StringComparer.OrdinalIgnoreCase))
            {
                addresses.Add(normal);
            }
        }

        return addresses.Count > 0
            ? addresses
            : throw new FormatException($"{setting} names no coordinator: give its address, e.g. http://10.0.0.5:7460 (several separated by commas)");
    }
}
