namespace RMTC.Farm.Core;

/// <summary>Quotes a wrangler's text back in an error message, cut short when long, so one bad value cannot make a megabyte message.</summary>
internal static class Echo
{
    private const int Max = 80;

    /// <summary>The text as is when short; else its start, an ellipsis and its length.</summary>
    public static string Of(string? text) =>
        text is null ? "" : text.Length <= Max ? text : $"{text[..60]}... ({text.Length} characters)";
}
