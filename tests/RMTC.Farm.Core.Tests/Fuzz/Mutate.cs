using System.Text;

namespace RMTC.Farm.Core.Tests.Fuzz;

/// <summary>Mutations shared by every generator: bytes, text lines, and hostile values to splice in.</summary>
internal static class Mutate
{
    /// <summary>Values that break naive parsers: huge, negative, non-finite, empty, very long, odd unicode, NUL, nesting.</summary>
    public static string HostileScalar(Random r) => r.Next(24) switch
    {
        0 => "99999999999999999999999999",
        1 => "-1",
        2 => "-9223372036854775808",
        3 => "9223372036854775807",
        4 => "2147483648",
        5 => "1e308",
        6 => "-1e-320",
        7 => r.Next(2) == 0 ? "NaN" : ".nan",
        8 => r.Next(2) == 0 ? "Infinity" : ".inf",
        9 => "",
        10 => new string('x', r.Next(1000, 20_000)),
        11 => "\u202Eevil\u0301\uFEFF名前🎞️",
        12 => "a\0b",
        13 => "\uD800",
        14 => "0x7fffffff",
        15 => "1_000",
        16 => "١٢٣",
        17 => "  ",
        18 => "../../../etc/passwd",
        19 => "1.5",
        20 => "true",
        21 => string.Concat(Enumerable.Repeat("9", r.Next(20, 400))),
        22 => "0",
        _ => "null",
    };

    /// <summary>Flips bits, overwrites, inserts, deletes, duplicates, swaps or truncates; 1 to 8 edits.</summary>
    public static byte[] Bytes(Random r, byte[] input)
    {
        var bytes = new List<byte>(input);
        var edits = 1 + r.Next(8);
        for (var e = 0; e < edits; e++)
        {
            var n = bytes.Count;
            switch (r.Next(9))
            {
                case 0 when n > 0:
                    var at = r.Next(n);
                    bytes[at] ^= (byte)(1 << r.Next(8));
                    break;
                case 1 when n > 0:
                    bytes[r.Next(n)] = Interesting[r.Next(Interesting.Length)];
                    break;
                case 2:
                    var insert = new byte[r.Next(1, 16)];
                    r.NextBytes(insert);
                    bytes.InsertRange(r.Next(n + 1), insert);
                    break;
                case 3 when n > 0:
                    var start = r.Next(n);
                    bytes.RemoveRange(start, r.Next(1, Math.Min(32, n - start) + 1));
                    break;
                case 4 when n > 0:
                    var from = r.Next(n);
                    var len = r.Next(1, Math.Min(64, n - from) + 1);
                    bytes.InsertRange(r.Next(n + 1), bytes.GetRange(from, len));
                    break;
                case 5 when n > 1:
                    var i = r.Next(n);
                    var j = r.Next(n);
                    (bytes[i], bytes[j]) = (bytes[j], bytes[i]);
                    break;
                case 6 when n > 0:
                    var cutAt = r.Next(n);
                    bytes.RemoveRange(cutAt, n - cutAt);
                    break;
                case 7 when n > 0:
                    // A non-UTF-8 byte sequence (overlong, lone continuation, truncated 4-byte) in the middle.
                    bytes.InsertRange(r.Next(n + 1), BadUtf8[r.Next(BadUtf8.Length)]);
                    break;
                default:
                    if (n > 0)
                    {
                        bytes[r.Next(n)] = (byte)r.Next(256);
                    }

                    break;
            }
        }

        return bytes.ToArray();
    }

    /// <summary>Line-level edits: drop, duplicate, swap, re-indent, splice a hostile value after a ':' or '>'.</summary>
    public static string Lines(Random r, string text)
    {
        var lines = text.Split('\n').ToList();
        var edits = 1 + r.Next(4);
        for (var e = 0; e < edits && lines.Count > 0; e++)
        {
            var i = r.Next(lines.Count);
            switch (r.Next(7))
            {
                case 0:
                    lines.RemoveAt(i);
                    break;
                case 1:
                    lines.Insert(r.Next(lines.Count + 1), lines[i]);
                    break;
                case 2:
                    var j = r.Next(lines.Count);
                    (lines[i], lines[j]) = (lines[j], lines[i]);
                    break;
                case 3:
                    lines[i] = new string(' ', r.Next(0, 9)) + lines[i].TrimStart();
                    break;
                case 4:
                    var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
                    if (colon >= 0)
                    {
                        lines[i] = lines[i][..(colon + 1)] + " " + HostileScalar(r);
                    }

                    break;
                case 5:
                    var gt = lines[i].IndexOf('>', StringComparison.Ordinal);
                    var lt = gt >= 0 ? lines[i].IndexOf('<', gt) : -1;
                    if (gt >= 0 && lt > gt)
                    {
                        lines[i] = lines[i][..(gt + 1)] + System.Security.SecurityElement.Escape(HostileScalar(r)) + lines[i][lt..];
                    }

                    break;
                default:
                    var cut = r.Next(lines[i].Length + 1);
                    lines[i] = lines[i][..cut];
                    break;
            }
        }

        return string.Join('\n', lines);
    }

    /// <summary>Cuts the text at a random character offset.</summary>
    public static string Truncate(Random r, string text) => text[..r.Next(text.Length + 1)];

    /// <summary>Random bytes, mostly printable ASCII with structure characters, sometimes anything.</summary>
    public static byte[] Random(Random r, string alphabet)
    {
        var bytes = new byte[r.Next(0, 2048)];
        if (r.Next(4) == 0)
        {
            r.NextBytes(bytes);
            return bytes;
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)alphabet[r.Next(alphabet.Length)];
        }

        return bytes;
    }

    /// <summary>A value nested <paramref name="depth"/> levels deep in flow style: [[[...]]] or {a: {a: ...}}.</summary>
    public static string DeepYaml(Random r, int depth) => r.Next(2) == 0
        ? new string('[', depth) + new string(']', depth)
        : string.Concat(Enumerable.Repeat("{a: ", depth)) + "1" + new string('}', depth);

    /// <summary>"Billion laughs" in YAML: each anchor aliases the previous one ten times.</summary>
    public static string YamlBomb(int levels, string indent = "")
    {
        var sb = new StringBuilder();
        sb.Append(indent).Append("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (var i = 1; i < levels; i++)
        {
            sb.Append(indent).Append($"l{i}: &l{i} [").Append(string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 10))).Append("]\n");
        }

        return sb.ToString();
    }

    private static readonly byte[] Interesting = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0x20, 0x0A, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C, 0x3C, 0x3E, 0x26, 0x2A];

    private static readonly byte[][] BadUtf8 =
    [
        [0xC0, 0xAF], [0x80], [0xF0, 0x9F, 0x98], [0xED, 0xA0, 0x80], [0xFE], [0xFF, 0xFE], [0xC3],
    ];
}
