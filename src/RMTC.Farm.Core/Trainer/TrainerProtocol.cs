using System.Text.Json;
using System.Text.Json.Serialization;

namespace RMTC.Farm.Core.Trainer;

/// <summary>
/// The trainer protocol: how <c>rmtc shard run</c> reports to the agent that started it. One JSON object a line (UTF-8,
/// <c>\n</c>), each a <see cref="TrainerMessage"/> named by <c>"type"</c>; the first is a <see cref="TrainerHello"/>
/// with the <see cref="Version"/> the trainer speaks. An agent refuses a trainer that speaks another version (the
/// shard fails, naming both versions), and reports any line it cannot read instead of skipping it.
/// </summary>
public static class TrainerProtocol
{
    /// <summary>
    /// The version this build writes and reads. Raise it when a message changes meaning or a field becomes required;
    /// an added optional field keeps it. Version 0 is the unversioned protocol before it (<c>{"ready":true}</c>);
    /// version 2 added the <see cref="TrainerStarted"/> message and the agent's <see cref="TrainerRequest"/>s on the
    /// trainer's standard input (<c>rmtc trainer serve</c>: a task per shard, cancel and yield by message).
    /// </summary>
    public const int Version = 2;

    /// <summary>The property that names a message's kind.</summary>
    public const string TypeProperty = "type";

    /// <summary>Every <c>type</c> this version knows, in the order a trainer may send them.</summary>
    public static IReadOnlyList<string> Types { get; } =
        [TrainerHello.Type, TrainerStarted.Type, TrainerProgress.Type, TrainerResult.Type, TrainerEvaluation.Type, TrainerCheckpoint.Type, TrainerError.Type];

    /// <summary>
    /// Strict on what a message must hold (every constructor parameter present, no null where none is allowed), lenient
    /// on order and on fields a later trainer may add; NaN and infinite losses travel as named literals.
    /// </summary>
    internal static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        AllowOutOfOrderMetadataProperties = true,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
    };

    /// <summary>Every <c>type</c> of request an agent sends a long-lived trainer on its standard input.</summary>
    public static IReadOnlyList<string> RequestTypes { get; } = [TrainerTaskRequest.Type, TrainerCancelRequest.Type, TrainerYieldRequest.Type];

    /// <summary>The message as one line of the protocol (no line break).</summary>
    public static string Format(TrainerMessage message) => JsonSerializer.Serialize(message, Json);

    /// <summary>The agent's request as one line of the protocol (no line break).</summary>
    public static string Format(TrainerRequest request) => JsonSerializer.Serialize(request, Json);

    /// <summary>
    /// Reads one line of a long-lived trainer's standard input: the request, or a problem that names what is wrong with
    /// the line (the trainer reports it on standard error and goes on reading).
    /// </summary>
    public static (TrainerRequest? Request, string? Problem) ParseRequest(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        try
        {
            return JsonSerializer.Deserialize<TrainerRequest>(line, Json) is { } request
                ? (request, null)
                : (null, $"not a trainer request (null): {Quote(line)}");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            return (null, $"not a trainer request of protocol {Version} (one of {string.Join(", ", RequestTypes)}): {e.Message}: {Quote(line)}");
        }
    }

    /// <summary>
    /// Reads one line: the message, or a problem that names what is wrong with the line (not JSON, no <c>type</c>, a
    /// <c>type</c> this version does not know, a known message missing a field).
    /// </summary>
    public static TrainerLine Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        try
        {
            return JsonSerializer.Deserialize<TrainerMessage>(line, Json) is { } message
                ? new TrainerLine(message, null)
                : new TrainerLine(null, $"not a trainer message (null): {Quote(line)}");
        }
        catch (JsonException e)
        {
            return new TrainerLine(null, Explain(line, e));
        }
        catch (NotSupportedException e)
        {
            // A line without "type" lands on the abstract base, which System.Text.Json cannot build.
            return new TrainerLine(null, Explain(line, e));
        }
    }

    private static string Explain(string line, Exception e)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException)
        {
            return $"not JSON: {Quote(line)}";
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return $"not a JSON object: {Quote(line)}";
            }

            if (!document.RootElement.TryGetProperty(TypeProperty, out var type) || type.ValueKind != JsonValueKind.String)
            {
                return $"no \"{TypeProperty}\" naming the message: {Quote(line)}";
            }

            var name = type.GetString()!;
            return Types.Contains(name, StringComparer.Ordinal)
                ? $"malformed \"{name}\" message ({e.Message}): {Quote(line)}"
                : $"unknown message type \"{name}\" (protocol {Version} knows {string.Join(", ", Types)}): {Quote(line)}";
        }
    }

    /// <summary>The line as a problem quotes it: at most 200 characters, so a flood of output stays readable.</summary>
    private static string Quote(string line) => line.Length > 200 ? line[..200] + "…" : line;
}

/// <summary>One line as read: the message, or the problem that kept it from being one.</summary>
/// <param name="Message">The message; null when the line was not one.</param>
/// <param name="Problem">What is wrong with the line; null when it was a message.</param>
public readonly record struct TrainerLine(TrainerMessage? Message, string? Problem);
