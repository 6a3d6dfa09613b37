using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace RMTC.Farm.Core.Yaml;

/// <summary>
/// Screens YAML from outside (job specs, dataset.yaml) before a node tree is built from it. YamlDotNet's tree is built
/// recursively, so thousands of nested brackets overflow the stack (which kills the process); and an alias of a list or
/// mapping shares a subtree that hashing or printing walks once per alias, so ten aliases of ten aliases ... (a
/// "billion laughs") cost exponential time. Neither has a use in these files, so both are refused with the line.
/// Aliases of plain values stay allowed, but each one costs what it repeats: the document is measured by its expanded
/// size (every scalar's UTF-8 bytes, an alias counting its anchor's bytes again), since everything downstream (the
/// spec's lists, the stored manifest, error messages) pays for the expansion, not for the text.
/// </summary>
internal static class YamlGuard
{
    /// <summary>Deepest nesting of lists and mappings accepted (the files need 5).</summary>
    public const int MaxDepth = 64;

    /// <summary>Bytes each node costs beyond its text (a separator, a bracket), so that a list of empty values is not free.</summary>
    private const int NodeOverhead = 2;

    /// <summary>
    /// The first problem as (line, message), or null when the text is safe to load. Reads events only (no tree), so
    /// it is linear in the text. <paramref name="maxExpandedBytes"/> bounds the document as if every alias were written
    /// out; <paramref name="setting"/> names what raises it (in the message). Throws <see cref="YamlException"/> when
    /// the text is not YAML, as loading would.
    /// </summary>
    public static (long Line, string Message)? Check(string text, long maxExpandedBytes, string setting)
    {
        var parser = new Parser(new StringReader(text));
        var collectionAnchors = new HashSet<string>(StringComparer.Ordinal);
        var scalarAnchors = new Dictionary<string, long>(StringComparer.Ordinal);
        long expanded = 0;
        // Per open list or mapping: whether it is a mapping, how many nodes it holds so far, and the last one's line.
        var open = new Stack<(bool Mapping, int Nodes, long LastLine)>();
        long line = 1;
        while (MoveNext(parser, line))
        {
            line = parser.Current!.End.Line;
            // An alias is a node too, though not a NodeEvent.
            if (parser.Current is NodeEvent or AnchorAlias && open.Count > 0)
            {
                var (mapping, nodes, _) = open.Pop();
                open.Push((mapping, nodes + 1, parser.Current.Start.Line));
            }

            switch (parser.Current)
            {
                case NodeEvent start and (MappingStart or SequenceStart):
                    open.Push((start is MappingStart, 0, start.Start.Line));
                    expanded += NodeOverhead;
                    if (open.Count > MaxDepth)
                    {
                        return (start.Start.Line, $"lists and mappings are nested more than {MaxDepth} levels deep here: these files need only a few levels; remove the extra brackets or indentation");
                    }

                    if (!start.Anchor.IsEmpty)
                    {
                        collectionAnchors.Add(start.Anchor.Value);
                    }

                    break;
                case MappingEnd or SequenceEnd:
                    // YamlDotNet's parser can end a mapping after a key with no value (e.g. "  : x" under a key), which
                    // its own loader then fails on with ArgumentException.
                    if (open.Pop() is { Mapping: true, Nodes: var n, LastLine: var keyLine } && n % 2 == 1)
                    {
                        return (keyLine, "this key has no value (or this value has no key): write `key: value`, one per line, at the same indentation");
                    }

                    break;
                case Scalar scalar:
                    var bytes = NodeOverhead + (long)System.Text.Encoding.UTF8.GetByteCount(scalar.Value);
                    expanded += bytes;
                    if (!scalar.Anchor.IsEmpty)
                    {
                        // An anchor name may be reused; the latest definition is the one an alias means.
                        collectionAnchors.Remove(scalar.Anchor.Value);
                        scalarAnchors[scalar.Anchor.Value] = bytes;
                    }

                    break;
                case AnchorAlias alias when collectionAnchors.Contains(alias.Value.Value):
                    return (alias.Start.Line, $"the alias *{alias.Value.Value} repeats a list or mapping: aliases may repeat only plain values (aliases of lists and mappings are how YAML bombs are built); write the list or mapping out in full");
                case AnchorAlias alias:
                    expanded += scalarAnchors.GetValueOrDefault(alias.Value.Value, NodeOverhead);
                    break;
            }

            if (expanded > maxExpandedBytes)
            {
                return (parser.Current.Start.Line, $"the document expands to more than {maxExpandedBytes} bytes once every alias is written out, over the limit ({setting}): an alias repeats its anchor's whole value; write each value once, or shorten them");
            }
        }

        return null;
    }

    /// <summary>Loads text that <see cref="Check"/> passed; YamlDotNet's own non-YAML exceptions become <see cref="YamlException"/>.</summary>
    public static YamlStream Load(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or InvalidOperationException)
        {
            throw new YamlException(Mark.Empty, Mark.Empty, $"{e.Message} (the YAML is malformed in a way the reader does not locate; check indentation and quoting)", e);
        }

        return stream;
    }

    /// <summary>
    /// YamlDotNet's scanner lets a few malformed escapes escape as other exceptions (e.g. "\uD800\U0010FFFF" throws
    /// ArgumentOutOfRangeException); they are YAML errors like any other, so they are reported as one.
    /// </summary>
    private static bool MoveNext(Parser parser, long line)
    {
        try
        {
            return parser.MoveNext();
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or InvalidOperationException)
        {
            var mark = new Mark(0, line, 1);
            throw new YamlException(mark, mark, $"after line {line}: {e.Message} (check the escapes in quoted text: \\u and \\U escapes must name whole characters)", e);
        }
    }
}
