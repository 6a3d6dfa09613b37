using System.Text;
using System.Text.Json;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>What a JavaScript reader (<c>JSON.parse</c>, the Explorer's pages) would get wrong in a JSON text.</summary>
public static class JavaScriptNumbers
{
    /// <summary>The largest integer a double holds exactly with all below it: 2^53 - 1 (<c>Number.MAX_SAFE_INTEGER</c>).</summary>
    public const long MaxSafeInteger = (1L << 53) - 1;

    /// <summary>Every integer literal in <paramref name="json"/> beyond ±2^53 - 1, with the property it belongs to.</summary>
    public static IReadOnlyList<string> Unsafe(string json)
    {
        var found = new List<string>();
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json), new JsonReaderOptions { AllowTrailingCommas = false });
        var property = "$";
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    property = reader.GetString()!;
                    break;
                case JsonTokenType.Number:
                    var text = Encoding.UTF8.GetString(reader.ValueSpan);
                    var integer = !text.Contains('.') && !text.Contains('e') && !text.Contains('E');
                    if (integer && (!reader.TryGetInt64(out var n) || n > MaxSafeInteger || n < -MaxSafeInteger))
                    {
                        found.Add($"{property}: {text}");
                    }

                    break;
            }
        }

        return found;
    }
}
