using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RMTC.Farm.Core.Json;

/// <summary>
/// The one rule for 64-bit integers in the JSON this project hands out (manifests, the Explorer's API, the
/// <c>--json</c> of lineage queries): written as strings of decimal digits, as protobuf's JSON mapping does, so a
/// JavaScript reader gets every digit; read back from strings or numbers. 32-bit integers and floating-point values stay
/// numbers (a double holds them exactly). Serialised objects follow it through <see cref="Int64AsStringConverter"/> and
/// <see cref="UInt64AsStringConverter"/> (in <see cref="Lineage.RunManifest.JsonOptions"/>); trees of nodes through
/// <see cref="ToJsonString"/>.
/// </summary>
public static class JsonIntegers
{
    /// <summary>
    /// <paramref name="node"/> as JSON text under <paramref name="options"/> (indentation, encoder), with every
    /// <see cref="long"/> or <see cref="ulong"/> value placed in the tree (<c>["seed"] = 4839323775198274693L</c>) written
    /// as a string. <see cref="JsonNode.ToJsonString"/> would write those as numbers whatever the options' converters.
    /// </summary>
    public static string ToJsonString(JsonNode? node, JsonSerializerOptions? options = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = options?.WriteIndented ?? false, Encoder = options?.Encoder }))
        {
            Write(node, writer, options);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void Write(JsonNode? node, Utf8JsonWriter writer, JsonSerializerOptions? options)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject o:
                writer.WriteStartObject();
                foreach (var (key, value) in o)
                {
                    writer.WritePropertyName(key);
                    Write(value, writer, options);
                }

                writer.WriteEndObject();
                break;
            case JsonArray a:
                writer.WriteStartArray();
                foreach (var item in a)
                {
                    Write(item, writer, options);
                }

                writer.WriteEndArray();
                break;
            // A value made from a CLR long or ulong (parsed values hold a JsonElement and are written as they were read).
            case JsonValue v when v.GetValue<object>() is long l:
                writer.WriteStringValue(l.ToString(CultureInfo.InvariantCulture));
                break;
            case JsonValue v when v.GetValue<object>() is ulong u:
                writer.WriteStringValue(u.ToString(CultureInfo.InvariantCulture));
                break;
            default:
                node.WriteTo(writer, options);
                break;
        }
    }
}
