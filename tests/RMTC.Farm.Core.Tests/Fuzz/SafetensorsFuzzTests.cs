using System.Buffers.Binary;
using System.Text;
using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Weights;
using Xunit.Abstractions;

namespace RMTC.Farm.Core.Tests.Fuzz;

/// <summary>
/// Hostile safetensors: header and data (sizes, offsets, overlaps, huge declared lengths, bad JSON, non-UTF-8, dtype and
/// shape mismatches). The reader, the streaming finite check and the merge's upload validation must each end in a
/// result or their own exception, never allocate what the bytes only claim.
/// </summary>
public sealed class SafetensorsFuzzTests(ITestOutputHelper output)
{
    // Header JSON becomes a few small objects per tensor; data is copied once. Nothing may scale with claimed sizes.
    private const long AllocBase = 1 << 20;
    private const long AllocPerByte = 128;

    private static readonly TensorDType[] DTypes = Enum.GetValues<TensorDType>();

    /// <summary>One tensor of the model a generator edits before writing bytes; values are raw JSON so they can be anything.</summary>
    private sealed class Entry
    {
        public string NameJson = "";
        public string DTypeJson = "";
        public string ShapeJson = "";
        public string OffsetsJson = "";
        public string Extra = "";
        public long Bytes;
    }

    private static List<Entry> ValidEntries(Random r, out byte[] data)
    {
        var entries = new List<Entry>();
        long offset = 0;
        var count = r.Next(0, 6);
        for (var i = 0; i < count; i++)
        {
            var dtype = DTypes[r.Next(DTypes.Length)];
            var shape = Enumerable.Range(0, r.Next(0, 4)).Select(_ => (long)r.Next(0, 5)).ToArray();
            var bytes = shape.Aggregate(1L, (a, b) => a * b) * dtype.SizeInBytes();
            entries.Add(new Entry
            {
                NameJson = Json(i switch { 0 => "weight", 1 => "layer.0/bias", 2 => "名前", _ => $"t{i}" }),
                DTypeJson = Json(dtype.ToHeaderString()),
                ShapeJson = "[" + string.Join(",", shape) + "]",
                OffsetsJson = $"[{offset},{offset + bytes}]",
                Bytes = bytes,
            });
            offset += bytes;
        }

        data = new byte[offset];
        r.NextBytes(data);
        return entries;
    }

    private static readonly string[] HugeNumbers =
        ["9223372036854775807", "9223372036854775808", "-1", "1099511627776", "4611686018427387904", "1.5", "1e30", "\"3\"", "null", "[]", "-0", "18446744073709551615"];

    /// <summary>Structure-aware edits of the tensor table: offsets, shapes, dtypes, names, fields.</summary>
    private static void MutateEntries(Random r, List<Entry> entries)
    {
        var edits = 1 + r.Next(3);
        for (var e = 0; e < edits; e++)
        {
            if (entries.Count == 0)
            {
                entries.Add(new Entry { NameJson = "\"x\"", DTypeJson = "\"F32\"", ShapeJson = "[1]", OffsetsJson = "[0,4]" });
                continue;
            }

            var t = entries[r.Next(entries.Count)];
            var huge = HugeNumbers[r.Next(HugeNumbers.Length)];
            switch (r.Next(16))
            {
                case 0: t.OffsetsJson = $"[0,{huge}]"; break;
                case 1: t.OffsetsJson = $"[{huge},{huge}]"; break;
                case 2: t.OffsetsJson = "[" + r.Next(-3, 50) + "," + r.Next(-3, 50) + "]"; break; // overlaps, gaps, begin > end
                case 3: t.OffsetsJson = r.Next(3) switch { 0 => "[0]", 1 => "[0,4,8]", _ => "{\"begin\":0}" }; break;
                case 4: t.ShapeJson = "[" + huge + "]"; break;
                case 5: t.ShapeJson = "[4294967296,4294967296,4294967296]"; break; // product overflows
                case 6: t.ShapeJson = r.Next(3) switch { 0 => "[-1]", 1 => "[[2],[2]]", _ => "\"2x2\"" }; break;
                case 7: t.ShapeJson = "[" + r.Next(0, 9) + "]"; break; // shape that no longer matches the offsets
                case 8: t.DTypeJson = r.Next(4) switch { 0 => "\"F8\"", 1 => "\"f32\"", 2 => "32", _ => "\"\\ud800\"" }; break;
                case 9: t.DTypeJson = Json(DTypes[r.Next(DTypes.Length)].ToHeaderString()); break; // dtype whose size no longer matches
                case 10: t.NameJson = entries[r.Next(entries.Count)].NameJson; break; // duplicate name
                case 11: t.NameJson = r.Next(4) switch { 0 => "\"__metadata__\"", 1 => "\"\\udc00\"", 2 => "\"\\u0000\"", _ => Json(new string('n', r.Next(1, 5000))) }; break;
                case 12: t.Extra = r.Next(3) switch { 0 => ",\"dtype\":\"F32\"", 1 => ",\"extra\":" + new string('[', 100) + new string(']', 100), _ => ",\"x\":{\"y\":[1,2,{\"z\":null}]}" }; break;
                case 13: entries.Remove(t); break;
                case 14: entries.Insert(r.Next(entries.Count + 1), t); break;
                default:
                    var field = r.Next(3);
                    if (field == 0)
                    {
                        t.DTypeJson = "";
                    }
                    else if (field == 1)
                    {
                        t.ShapeJson = "";
                    }
                    else
                    {
                        t.OffsetsJson = "";
                    }

                    break;
            }
        }
    }

    private static string HeaderJson(Random r, List<Entry> entries, bool validMetadata = false)
    {
        var parts = new List<string>();
        if (r.Next(3) == 0)
        {
            parts.Add("\"__metadata__\":" + (r.Next(validMetadata ? 1 : 5) switch
            {
                0 => "{\"format\":\"pt\",\"rmtc.round\":\"3\"}",
                1 => "{\"a\":1}",
                2 => "[\"a\"]",
                3 => "{\"a\":\"\\ud800\"}",
                _ => "null",
            }));
        }

        foreach (var t in entries)
        {
            var fields = new List<string>();
            if (t.DTypeJson.Length > 0)
            {
                fields.Add("\"dtype\":" + t.DTypeJson);
            }

            if (t.ShapeJson.Length > 0)
            {
                fields.Add("\"shape\":" + t.ShapeJson);
            }

            if (t.OffsetsJson.Length > 0)
            {
                fields.Add("\"data_offsets\":" + t.OffsetsJson);
            }

            parts.Add(t.NameJson + ":{" + string.Join(",", fields.OrderBy(_ => r.Next())) + t.Extra + "}");
        }

        var json = "{" + string.Join(",", parts) + "}";
        return json + new string(' ', (8 - (json.Length % 8)) % 8);
    }

    private static byte[] File(byte[] header, byte[] data, ulong? declared = null)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declared ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    private static FuzzInput Valid(Random r)
    {
        var entries = ValidEntries(r, out var data);
        return new FuzzInput(File(Encoding.UTF8.GetBytes(HeaderJson(r, entries, validMetadata: true)), data), "valid file from the model");
    }

    private static FuzzInput StructureMutated(Random r)
    {
        var entries = ValidEntries(r, out var data);
        MutateEntries(r, entries);
        return new FuzzInput(File(Encoding.UTF8.GetBytes(HeaderJson(r, entries)), data), "header with offsets/shapes/dtypes/names/fields edited");
    }

    private static FuzzInput LengthMutated(Random r)
    {
        var entries = ValidEntries(r, out var data);
        var header = Encoding.UTF8.GetBytes(HeaderJson(r, entries));
        ulong declared = r.Next(8) switch
        {
            0 => 0,
            1 => ulong.MaxValue,
            2 => 1UL << 40, // a terabyte
            3 => (ulong)Safetensors.MaxHeaderLength + 1,
            4 => (ulong)Safetensors.MaxHeaderLength,
            5 => (ulong)(header.Length + r.Next(1, 64)),
            6 => (ulong)Math.Max(0, header.Length - r.Next(1, 64)),
            _ => (ulong)(header.Length + data.Length + 1),
        };
        var cut = r.Next(3) switch
        {
            0 => data.Take(r.Next(data.Length + 1)).ToArray(),
            1 => [.. data, .. new byte[r.Next(1, 16)]],
            _ => data,
        };
        return new FuzzInput(File(header, cut, declared), "header length prefix or data length wrong");
    }

    private static FuzzInput BadText(Random r)
    {
        var entries = ValidEntries(r, out var data);
        var header = Encoding.UTF8.GetBytes(HeaderJson(r, entries)).ToList();
        switch (r.Next(5))
        {
            case 0:
                header.InsertRange(r.Next(header.Count + 1), new byte[][] { [0xC0, 0xAF], [0xFF], [0xED, 0xA0, 0x80], [0xF0, 0x9F] }[r.Next(4)]);
                break;
            case 1:
                header.InsertRange(1, Encoding.UTF8.GetBytes("\"deep\":" + new string('[', r.Next(60, 5000)) + new string(']', r.Next(0, 5000)) + ","));
                break;
            case 2:
                header.InsertRange(1, Encoding.UTF8.GetBytes("/* comment */"));
                break;
            case 3:
                header = [.. Encoding.UTF8.GetBytes(r.Next(3) switch { 0 => "[]", 1 => "\"text\"", _ => "{\"a\":{}}{}" })];
                break;
            default:
                header.RemoveRange(r.Next(header.Count), 1);
                break;
        }

        return new FuzzInput(File([.. header], data), "header JSON not valid: non-UTF-8, deep, comments, wrong root, cut");
    }

    internal static readonly Func<Random, FuzzInput>[] Generators =
    [
        Valid,
        StructureMutated,
        r =>
        {
            var entries = ValidEntries(r, out var data);
            MutateEntries(r, entries);
            MutateEntries(r, entries);
            return new FuzzInput(File(Encoding.UTF8.GetBytes(HeaderJson(r, entries)), data), "header edited twice");
        },
        LengthMutated,
        BadText,
        r => new FuzzInput(Mutate.Bytes(r, Valid(r).Bytes), "valid file with bit flips and byte edits"),
        r =>
        {
            var valid = Valid(r).Bytes;
            return new FuzzInput(valid[..r.Next(valid.Length + 1)], "valid file truncated");
        },
        r =>
        {
            var bytes = Mutate.Random(r, "{}[]\":,0123456789 abcdefFIUBOL_");
            if (bytes.Length >= 8 && r.Next(2) == 0)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)r.Next(0, bytes.Length));
            }

            return new FuzzInput(bytes, "random bytes");
        },
    ];

    /// <summary>
    /// Reads in full, and streams the same bytes through the finite check in uneven chunks: the check never throws,
    /// and whenever it calls a file clean the reader accepts it too.
    /// </summary>
    internal static bool Parse(FuzzInput input)
    {
        var check = new SafetensorsFiniteCheck(input.Bytes.Length);
        var longer = new SafetensorsFiniteCheck(input.Bytes.Length + 1L + (input.Bytes.Length % 3 * (1L << 40)));
        var chunk = 1 + (input.Bytes.Length % 37);
        for (var at = 0; at < input.Bytes.Length; at += chunk)
        {
            check.Append(input.Bytes.AsSpan(at, Math.Min(chunk, input.Bytes.Length - at)));
            longer.Append(input.Bytes.AsSpan(at, Math.Min(chunk, input.Bytes.Length - at)));
        }

        Assert.False(longer.IsClean, "an upload shorter than it declared was called clean");

        try
        {
            var (tensors, _) = Safetensors.Read(new MemoryStream(input.Bytes, writable: false));
            Assert.Equal(input.Bytes.Length - 8 - (long)BinaryPrimitives.ReadUInt64LittleEndian(input.Bytes), tensors.Sum(t => t.Data.LongLength));
            return true;
        }
        catch (SafetensorsFormatException)
        {
            Assert.False(check.IsClean, "the streaming finite check called clean a file the reader refuses");
            throw;
        }
    }

    [Fact]
    public void Generated_safetensors_end_in_tensors_or_a_clear_SafetensorsFormatException()
    {
        var stats = FuzzRunner.Run(output, "safetensors", FuzzRunner.Seed(6004), Generators, FuzzRunner.Iterations(20000),
            Parse, e => e is SafetensorsFormatException, AllocBase, AllocPerByte);
        Assert.True(stats.Valid > 0 && stats.Rejected > 0, $"the generators should make both valid and invalid files: {stats}");
    }

    [Fact]
    public void Every_truncation_and_every_bit_flip_of_a_valid_file_ends_in_tensors_or_a_clear_SafetensorsFormatException()
    {
        using var ms = new MemoryStream();
        Safetensors.Write(ms, [.. Template, new NamedTensor("step", TensorDType.I64, [], new byte[8]), new NamedTensor("half", TensorDType.BF16, [2], new byte[4])],
            new Dictionary<string, string> { ["format"] = "pt" });
        var file = ms.ToArray();
        var cuts = Enumerable.Range(0, file.Length + 1).Select(n => new FuzzInput(file[..n], $"valid file cut at {n}"));
        var flips = Enumerable.Range(0, file.Length * 8).Select(bit =>
        {
            var copy = (byte[])file.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            return new FuzzInput(copy, $"bit {bit} flipped");
        });
        FuzzRunner.Check(output, "safetensors truncations and bit flips", 0, cuts.Concat(flips), Parse, e => e is SafetensorsFormatException, AllocBase, AllocPerByte);
    }

    [Theory]
    [InlineData("{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "a tensor name escapes half of a UTF-16 surrogate pair")]
    [InlineData("{\"a\":{\"dtype\":\"\\udc00\",\"shape\":[1],\"data_offsets\":[0,4]}}", "the dtype of tensor 'a' escapes half of a UTF-16 surrogate pair")]
    [InlineData("{\"__metadata__\":{\"k\":\"\\ud800x\"},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "'__metadata__' value of 'k' escapes half")]
    [InlineData("{\"a\":{\"\\ud800\":1,\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "a field name of tensor 'a' escapes half")]
    public void A_lone_surrogate_escape_is_a_format_error_not_an_InvalidOperationException(string json, string expected)
    {
        // Found by fuzzing: Utf8JsonReader.GetString threw InvalidOperationException for "\ud800" (valid JSON, no valid text).
        var error = Assert.Throws<SafetensorsFormatException>(() => Parse(new FuzzInput(File(Encoding.ASCII.GetBytes(json), new byte[4]), "surrogate")));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1UL << 40, "header length 1099511627776 is too large")]
    [InlineData(ulong.MaxValue, "header length 18446744073709551615 is too large")]
    [InlineData(99_999_999UL, "larger than the")]
    public void A_header_claiming_a_terabyte_is_refused_without_allocating_it(ulong declared, string expected)
    {
        var input = new FuzzInput(File(Encoding.ASCII.GetBytes("{}      "), [], declared), "huge claim");
        var error = Assert.Throws<SafetensorsFormatException>(() => Parse(input));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        FuzzRunner.Check(output, "safetensors huge claim", 0, [input], Parse, e => e is SafetensorsFormatException, 64 << 10, 0);
    }

    [Fact]
    public void Tensor_offsets_claiming_a_terabyte_are_refused_without_allocating_it()
    {
        var json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[274877906944],\"data_offsets\":[0,1099511627776]}}";
        var input = new FuzzInput(File(Encoding.ASCII.GetBytes(json), new byte[16]), "tensor claims 1 TiB");
        var error = Assert.Throws<SafetensorsFormatException>(() => Parse(input));
        Assert.Contains("data is truncated: the tensors need 1099511627776 bytes but the data section holds only 16", error.Message, StringComparison.Ordinal);
        FuzzRunner.Check(output, "safetensors tensor claims 1 TiB", 0, [input], Parse, e => e is SafetensorsFormatException, 64 << 10, 0);
    }

    [Fact]
    public void Every_file_written_from_the_model_is_accepted()
    {
        // Hardening must not refuse valid input.
        for (var i = 0; i < 500; i++)
        {
            Assert.True(Parse(Valid(new Random(i))));
        }
    }

    [Fact]
    public void The_streaming_check_allocates_what_arrives_not_what_the_header_claims()
    {
        // Found by the allocation cap: a declared 99,999,999-byte header allocated 100 MB as soon as its 8-byte
        // prefix arrived, before any of it was sent.
        var head = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(head, 99_999_999);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var check = new SafetensorsFiniteCheck(1L << 40);
        check.Append(head);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 64 << 10);
        Assert.False(check.IsClean);
    }

    // ---- The merge's validation of an uploaded result against the round's template ----

    private static readonly NamedTensor[] Template =
    [
        NamedTensor.FromFloats("conv.weight", [2, 3], [1, 2, 3, 4, 5, 6]),
        NamedTensor.FromFloats("conv.bias", [2], [0.5f, -0.5f]),
        NamedTensor.FromFloats("head", [], [7]),
    ];

    private static byte[] Write(IReadOnlyList<NamedTensor> tensors)
    {
        using var ms = new MemoryStream();
        Safetensors.Write(ms, tensors);
        return ms.ToArray();
    }

    private static FuzzInput Upload(Random r)
    {
        var tensors = Template.Select(t => new NamedTensor(t.Name, t.DType, t.Shape, (byte[])t.Data.Clone())).ToList();
        switch (r.Next(9))
        {
            case 0:
                return new FuzzInput(Write(tensors), "valid result");
            case 1:
                var bad = tensors[r.Next(tensors.Count)].AsFloat32();
                bad[r.Next(bad.Length)] = r.Next(3) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => float.NegativeInfinity };
                return new FuzzInput(Write(tensors), "result with NaN/Inf");
            case 2:
                var k = r.Next(tensors.Count);
                tensors[k] = new NamedTensor(tensors[k].Name + (r.Next(2) == 0 ? "x" : ""), TensorDType.F32, [tensors[k].ElementCount], tensors[k].Data);
                return new FuzzInput(Write(tensors), "result with a tensor renamed or reshaped");
            case 3:
                var d = r.Next(tensors.Count);
                tensors[d] = new NamedTensor(tensors[d].Name, TensorDType.I32, tensors[d].Shape, tensors[d].Data);
                return new FuzzInput(Write(tensors), "result with a wrong dtype");
            case 4:
                tensors.RemoveAt(r.Next(tensors.Count));
                return new FuzzInput(Write(tensors), "result missing a tensor");
            case 5:
                tensors.Add(NamedTensor.FromFloats("extra", [1], [1]));
                return new FuzzInput(Write(tensors), "result with an extra tensor");
            case 6:
                tensors.Reverse();
                return new FuzzInput(Write(tensors), "valid result, tensors in another order");
            case 7:
                var valid = Write(tensors);
                return new FuzzInput(valid[..r.Next(valid.Length)], "result truncated");
            default:
                return new FuzzInput(Mutate.Bytes(r, Write(tensors)), "result with bit flips and byte edits");
        }
    }

    [Fact]
    public void Generated_result_uploads_are_merged_or_refused_with_a_WeightsRejectedException()
    {
        using var ms = new MemoryStream(Write(Template));
        var accumulator = new FedAvgAccumulator(Safetensors.ReadHeader(ms, ms.Length));
        var stats = FuzzRunner.Run(output, "result upload", FuzzRunner.Seed(6007), [Upload], FuzzRunner.Iterations(4000),
            input =>
            {
                // Through a stream that does not expose its buffer, so the chunked two-pass path runs too.
                accumulator.Add(input.Bytes.Length % 2 == 0 ? new MemoryStream(input.Bytes, writable: false) : new BufferedStream(new MemoryStream(input.Bytes, writable: false)), 1);
                return true;
            },
            e => e is WeightsRejectedException, AllocBase, AllocPerByte);
        Assert.True(stats.Valid > 0 && stats.Rejected > 0, stats.ToString());
        var merged = accumulator.Finish();
        Assert.All(merged, t => Assert.All(t.AsFloat32().ToArray(), v => Assert.True(float.IsFinite(v))));
    }

    private static string Json(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
