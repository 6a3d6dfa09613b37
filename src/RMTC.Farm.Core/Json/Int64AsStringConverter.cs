using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RMTC.Farm.Core.Json;

/// <summary>
/// Writes a 64-bit integer as a JSON string of its decimal digits, as protobuf's JSON mapping does, and reads either a
/// number (documents written before) or such a string. JavaScript (the Explorer, any script with <c>JSON.parse</c>)
/// reads JSON numbers as doubles, exact only up to 2^53: the seed 4839323775198274693 comes out as 4839323775198275000.
/// </summary>
public sealed class Int64AsStringConverter : JsonConverter<long>
{
    /// <inheritdoc/>
    public override long Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number when reader.TryGetInt64(out var n) => n,
        JsonTokenType.String when long.TryParse(reader.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s) => s,
        _ => throw JsonIntegerText.Refusal(ref reader, "a 64-bit integer"),
    };

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, long value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
}

/// <summary>The unsigned twin of <see cref="Int64AsStringConverter"/>.</summary>
public sealed class UInt64AsStringConverter : JsonConverter<ulong>
{
    /// <inheritdoc/>
    public override ulong Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number when reader.TryGetUInt64(out var n) => n,
        JsonTokenType.String when ulong.TryParse(reader.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var s) => s,
        _ => throw JsonIntegerText.Refusal(ref reader, "an unsigned 64-bit integer"),
    };

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, ulong value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
}

/// <summary>The error both converters give for a value that is not an integer of their range.</summary>
internal static class JsonIntegerText
{
    public static JsonException Refusal(ref Utf8JsonReader reader, string what)
    {
        var got = reader.TokenType switch
        {
            JsonTokenType.String => $"\"{Echo.Of(reader.GetString() ?? "")}\"",
            JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan.ToArray()),
            var t => t.ToString(),
        };
        return new JsonException($"expected {what} (a number, or its decimal digits as a string), got {got}");
    }
}
