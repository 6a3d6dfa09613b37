using System.Text.Json;
using System.Text.Json.Serialization;

namespace RMTC.Farm.Core.Rights;

/// <summary>Reads a <see cref="RightsAssertion"/> as a bare string or an object; writes the string form when it can.</summary>
public sealed class RightsAssertionJsonConverter : JsonConverter<RightsAssertion>
{
    /// <inheritdoc/>
    public override RightsAssertion Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return new RightsAssertion(reader.GetString() ?? "");
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"a rights assertion is a string or an object with `use`, got {reader.TokenType}");
        }

        string? use = null;
        string? constraintInfo = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = reader.GetString();
            reader.Read();
            if (string.Equals(name, "use", StringComparison.OrdinalIgnoreCase))
            {
                use = reader.GetString();
            }
            else if (string.Equals(name, "constraintInfo", StringComparison.OrdinalIgnoreCase))
            {
                constraintInfo = reader.TokenType == JsonTokenType.Null ? null : reader.GetString();
            }
            else
            {
                // Fields a later version adds are skipped rather than failing the whole manifest.
                reader.Skip();
            }
        }

        return new RightsAssertion(use ?? throw new JsonException("a rights assertion object needs `use`"), constraintInfo);
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, RightsAssertion value, JsonSerializerOptions options)
    {
        if (value.ConstraintInfo is null)
        {
            writer.WriteStringValue(value.Use);
            return;
        }

        writer.WriteStartObject();
        writer.WriteString("use", value.Use);
        writer.WriteString("constraintInfo", value.ConstraintInfo);
        writer.WriteEndObject();
    }
}
