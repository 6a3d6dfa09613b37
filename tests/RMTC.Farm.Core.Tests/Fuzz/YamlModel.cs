using System.Globalization;
using System.Text;

namespace RMTC.Farm.Core.Tests.Fuzz;

/// <summary>A YAML document as a tree the generators edit (drop, duplicate, swap keys, wrong types) before writing it.</summary>
internal abstract record YNode;

internal sealed record YScalar(string Value) : YNode;

internal sealed record YSeq(List<YNode> Items) : YNode;

internal sealed record YMap(List<(string Key, YNode Value)> Entries) : YNode;

/// <summary>Raw YAML text spliced in as a value (anchors, aliases, tags, deep nesting).</summary>
internal sealed record YRaw(string Text) : YNode;

/// <summary>The shape of a valid document: each key's valid-value generator, and nested mappings' own schemas.</summary>
internal sealed class YSchema
{
    public Dictionary<string, Func<Random, YNode>> Keys { get; } = new(StringComparer.Ordinal);

    public YMap Valid(Random r, double keepOptional = 0.7, IReadOnlySet<string>? required = null)
    {
        var map = new YMap([]);
        foreach (var (key, gen) in Keys)
        {
            if (required?.Contains(key) == true || r.NextDouble() < keepOptional)
            {
                map.Entries.Add((key, gen(r)));
            }
        }

        return map;
    }
}

internal static class YamlModel
{
    public static YScalar S(object value) => new(Convert.ToString(value, CultureInfo.InvariantCulture)!);

    public static YSeq Seq(params YNode[] items) => new([.. items]);

    public static YSchema Schema(params (string Key, Func<Random, YNode> Gen)[] keys)
    {
        var schema = new YSchema();
        foreach (var (key, gen) in keys)
        {
            schema.Keys[key] = gen;
        }

        return schema;
    }

    /// <summary>Structure-aware edits of a mapping (recursing into nested mappings sometimes).</summary>
    public static YMap MutateMap(Random r, YMap map, IReadOnlyList<string> knownKeys)
    {
        var entries = map.Entries.ToList();
        var edits = 1 + r.Next(4);
        for (var e = 0; e < edits; e++)
        {
            var n = entries.Count;
            switch (r.Next(9))
            {
                case 0 when n > 0:
                    entries.RemoveAt(r.Next(n));
                    break;
                case 1 when n > 0:
                    var dup = entries[r.Next(n)];
                    entries.Insert(r.Next(n + 1), (dup.Key, r.Next(2) == 0 ? dup.Value : WrongValue(r)));
                    break;
                case 2 when n > 1:
                    // Swap the values of two keys: each key now holds the other's type.
                    var i = r.Next(n);
                    var j = r.Next(n);
                    (entries[i], entries[j]) = ((entries[i].Key, entries[j].Value), (entries[j].Key, entries[i].Value));
                    break;
                case 3 when n > 0:
                    var k = r.Next(n);
                    entries[k] = (entries[k].Key, WrongValue(r));
                    break;
                case 4:
                    entries.Insert(r.Next(n + 1), (r.Next(2) == 0 ? knownKeys[r.Next(knownKeys.Count)] : Mutate.HostileScalar(r), WrongValue(r)));
                    break;
                case 5 when n > 0:
                    var m = r.Next(n);
                    if (entries[m].Value is YMap nested)
                    {
                        entries[m] = (entries[m].Key, MutateMap(r, nested, knownKeys));
                    }

                    break;
                case 6 when n > 1:
                    var a = r.Next(n);
                    var b = r.Next(n);
                    (entries[a], entries[b]) = (entries[b], entries[a]);
                    break;
                case 7 when n > 0:
                    var h = r.Next(n);
                    entries[h] = (entries[h].Key, new YScalar(Mutate.HostileScalar(r)));
                    break;
                default:
                    // Anchor a value and alias it from another key (legal YAML that parsers must bound).
                    if (n > 1)
                    {
                        var src = r.Next(n);
                        var dst = r.Next(n);
                        entries[src] = (entries[src].Key, new YRaw("&x " + Write(entries[src].Value, r, flow: true)));
                        entries[dst] = (entries[dst].Key, new YRaw("*x"));
                    }

                    break;
            }
        }

        return new YMap(entries);
    }

    /// <summary>A value of a type the key does not expect, or a hostile construct (amplifiers included: small text, large once read).</summary>
    public static YNode WrongValue(Random r) => r.Next(15) switch
    {
        12 => new YRaw(SpecAmplifiers.AliasedScalarList(r.Next(1, 20_000), r.Next(4, 40_000))),
        13 => new YRaw("[" + string.Join(", ", Enumerable.Repeat(r.Next(2) == 0 ? "a" : "\"\"", r.Next(1, 20_000))) + "]"),
        14 => new YMap([.. Enumerable.Range(0, r.Next(1, 2_000)).Select(i => (new string('k', r.Next(1, 200)) + i.ToString(CultureInfo.InvariantCulture), (YNode)S(i)))]),
        0 => new YSeq([S(1), S("two"), new YMap([("x", S(3))])]),
        1 => new YMap([("a", S(1)), ("b", Seq(S("c")))]),
        2 => new YScalar(Mutate.HostileScalar(r)),
        3 => new YRaw(Mutate.DeepYaml(r, r.Next(2, 200))),
        4 => new YRaw(r.Next(2) == 0 ? "!!binary aGVsbG8=" : "!System.IO.FileInfo /etc/passwd"),
        5 => new YRaw("*undefined"),
        6 => new YRaw("&self [*self]"),
        7 => new YSeq([]),
        8 => new YMap([]),
        9 => new YRaw("~"),
        10 => new YRaw("{? [a, b]: c}"),
        _ => new YRaw("\"\\0\\x00\\uD800\\U0010FFFF\\N\\_\""),
    };

    /// <summary>Writes the tree as YAML, block or flow style at random, scalars plain, quoted or literal.</summary>
    public static string Write(YNode node, Random r, bool flow = false, int indent = 0)
    {
        var sb = new StringBuilder();
        WriteNode(sb, node, r, flow, indent);
        return sb.ToString();
    }

    private static void WriteNode(StringBuilder sb, YNode node, Random r, bool flow, int indent)
    {
        switch (node)
        {
            case YScalar s:
                sb.Append(Scalar(s.Value, r));
                break;
            case YRaw raw:
                sb.Append(raw.Text);
                break;
            case YSeq seq when flow || seq.Items.Count == 0 || r.Next(3) == 0:
                sb.Append('[');
                for (var i = 0; i < seq.Items.Count; i++)
                {
                    sb.Append(i > 0 ? ", " : "");
                    WriteNode(sb, seq.Items[i], r, flow: true, indent);
                }

                sb.Append(']');
                break;
            case YSeq seq:
                foreach (var item in seq.Items)
                {
                    sb.Append('\n').Append(' ', indent).Append("- ");
                    WriteNode(sb, item, r, flow: item is not YMap, indent + 2);
                }

                break;
            case YMap map when flow || map.Entries.Count == 0 || r.Next(4) == 0:
                sb.Append('{');
                for (var i = 0; i < map.Entries.Count; i++)
                {
                    sb.Append(i > 0 ? ", " : "").Append(Scalar(map.Entries[i].Key, r)).Append(": ");
                    WriteNode(sb, map.Entries[i].Value, r, flow: true, indent);
                }

                sb.Append('}');
                break;
            case YMap map:
                var first = true;
                foreach (var (key, value) in map.Entries)
                {
                    if (!first || indent > 0)
                    {
                        sb.Append('\n').Append(' ', indent);
                    }

                    first = false;
                    // "key: " then the value: a block value starts on the next line, a flow one right here.
                    sb.Append(Scalar(key, r)).Append(": ");
                    WriteNode(sb, value, r, flow: false, indent + 2);
                }

                break;
        }
    }

    private static string Scalar(string value, Random r)
    {
        var plainSafe = value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ' ') && value.Trim() == value;
        return r.Next(6) switch
        {
            0 or 1 or 2 when plainSafe => value,
            3 => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'",
            4 => value,
            _ => Quote(value),
        };
    }

    private static string Quote(string value)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in value)
        {
            sb.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\0' => "\\0",
                '\n' => "\\n",
                _ when char.IsControl(c) || char.IsSurrogate(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }

        return sb.Append('"').ToString();
    }
}
