using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace RMTC.Farm.Core.Weights;

/// <summary>Our own safetensors reader and writer (never pickle).</summary>
public static class Safetensors
{
    /// <summary>Largest header accepted: 100 MB, as the reference implementation.</summary>
    public const long MaxHeaderLength = 100_000_000;

    private const string MetadataKey = "__metadata__";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Keep non-ASCII names as raw UTF-8 (the header length counts bytes); JSON specials are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>
    /// Reads and validates the header; <paramref name="streamLength"/> is used to check the data fits (pass stream.Length when seekable).
    /// The stream must be positioned at the start of the file; it is left at the start of the data section.
    /// Throws <see cref="SafetensorsFormatException"/> when the file is malformed.
    /// </summary>
    public static SafetensorsHeader ReadHeader(Stream stream, long streamLength)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (streamLength < 8)
        {
            throw new SafetensorsFormatException($"file is {Math.Max(streamLength, 0)} bytes, shorter than the 8-byte header length prefix");
        }

        Span<byte> prefix = stackalloc byte[8];
        ReadExactlyOrThrow(stream, prefix, "header length prefix");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength == 0)
        {
            throw new SafetensorsFormatException("header length is 0: the JSON header is missing");
        }

        if (headerLength > MaxHeaderLength)
        {
            throw new SafetensorsFormatException($"header length {headerLength} is too large (limit {MaxHeaderLength} bytes)");
        }

        if ((long)headerLength > streamLength - 8)
        {
            throw new SafetensorsFormatException($"header length {headerLength} is larger than the {streamLength - 8} bytes left in the file");
        }

        int n = (int)headerLength;
        byte[] json = ArrayPool<byte>.Shared.Rent(n);
        List<TensorEntry> tensors;
        Dictionary<string, string> metadata;
        try
        {
            ReadExactlyOrThrow(stream, json.AsSpan(0, n), "header");
            (tensors, metadata) = ParseHeaderJson(json.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(json);
        }

        // File order: by offset (empty tensors first at a shared offset), ties kept in header order.
        var order = new int[tensors.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) =>
        {
            int c = tensors[a].Begin.CompareTo(tensors[b].Begin);
            if (c == 0)
            {
                c = tensors[a].End.CompareTo(tensors[b].End);
            }

            return c == 0 ? a.CompareTo(b) : c;
        });

        var sorted = new TensorEntry[tensors.Count];
        long expected = 0;
        for (int i = 0; i < order.Length; i++)
        {
            var t = tensors[order[i]];
            if (t.Begin < expected)
            {
                var prev = sorted[i - 1];
                throw new SafetensorsFormatException(
                    $"tensor '{Echo.Of(t.Name)}': data_offsets [{t.Begin}, {t.End}] overlap tensor '{Echo.Of(prev.Name)}' [{prev.Begin}, {prev.End}]");
            }

            if (t.Begin > expected)
            {
                string after = i == 0 ? "the start of the data section" : $"tensor '{Echo.Of(sorted[i - 1].Name)}' (ends at {expected})";
                throw new SafetensorsFormatException(
                    $"tensor '{Echo.Of(t.Name)}': data_offsets [{t.Begin}, {t.End}] leave a gap of {t.Begin - expected} bytes after {after}");
            }

            sorted[i] = t;
            expected = t.End;
        }

        long dataLength = streamLength - 8 - n;
        if (dataLength < expected)
        {
            throw new SafetensorsFormatException(
                $"data is truncated: the tensors need {expected} bytes but the data section holds only {dataLength}");
        }

        if (dataLength > expected)
        {
            throw new SafetensorsFormatException(
                $"trailing data: the data section holds {dataLength} bytes but the tensors use only {expected} ({dataLength - expected} extra bytes)");
        }

        return new SafetensorsHeader
        {
            Tensors = sorted,
            Metadata = metadata,
            DataStart = 8 + n,
        };
    }

    /// <summary>Reads a whole file into memory. Throws <see cref="SafetensorsFormatException"/> when the file is malformed.</summary>
    public static (IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        return Read(fs);
    }

    /// <summary>
    /// Reads a whole safetensors stream (seekable, positioned at its start) into memory. Nothing is allocated for data
    /// the stream does not hold: the header's sizes are checked against the stream's length first.
    /// Throws <see cref="SafetensorsFormatException"/> when the bytes are malformed.
    /// </summary>
    public static (IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(Stream fs)
    {
        ArgumentNullException.ThrowIfNull(fs);
        var header = ReadHeader(fs, fs.Length - fs.Position);
        var result = new NamedTensor[header.Tensors.Count];
        for (int i = 0; i < result.Length; i++)
        {
            var t = header.Tensors[i];
            long len = t.End - t.Begin;
            if (len > Array.MaxLength)
            {
                throw new SafetensorsFormatException($"tensor '{Echo.Of(t.Name)}': {len} bytes is too large to load into memory");
            }

            var data = len == 0 ? Array.Empty<byte>() : GC.AllocateUninitializedArray<byte>((int)len);
            ReadExactlyOrThrow(fs, data, $"data of tensor '{Echo.Of(t.Name)}'");
            result[i] = new NamedTensor(t.Name, t.DType, t.Shape, data);
        }

        return (result, header.Metadata);
    }

    /// <summary>
    /// Writes tensors in the given order; header padded with spaces to a multiple of 8 bytes.
    /// Metadata keys are written in ordinal order so that equal inputs give identical bytes.
    /// Throws <see cref="ArgumentException"/> on duplicate or reserved (<c>__metadata__</c>) names.
    /// </summary>
    public static void Write(Stream stream, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        WriteCore(stream, tensors, metadata, hash: null);
    }

    /// <summary>Writes to a file atomically (temp file + rename) and returns its sha256 hex digest.</summary>
    public static string WriteFile(string path, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        string tmp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                WriteCore(fs, tensors, metadata, hash);
                fs.Flush(flushToDisk: true);
            }

            File.Move(tmp, path, overwrite: true);
            return Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        catch
        {
            try
            {
                File.Delete(tmp);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            throw;
        }
    }

    private static void WriteCore(Stream stream, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata, IncrementalHash? hash)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        byte[] header = BuildHeader(tensors, metadata);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        Emit(stream, hash, prefix);
        Emit(stream, hash, header);
        for (int i = 0; i < tensors.Count; i++)
        {
            Emit(stream, hash, tensors[i].Data);
        }
    }

    private static void Emit(Stream stream, IncrementalHash? hash, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        stream.Write(bytes);
        hash?.AppendData(bytes);
    }

    /// <summary>The header JSON, padded with spaces so that 8 + its length is a multiple of 8.</summary>
    internal static byte[] BuildHeader(IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>(tensors.Count, StringComparer.Ordinal);
        var buffer = new ArrayBufferWriter<byte>(256 + (64 * tensors.Count));
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                var keys = new string[metadata.Count];
                int k = 0;
                foreach (var kv in metadata)
                {
                    ArgumentNullException.ThrowIfNull(kv.Value, $"metadata['{kv.Key}']");
                    keys[k++] = kv.Key;
                }

                Array.Sort(keys, StringComparer.Ordinal);
                w.WriteStartObject(MetadataKey);
                foreach (var key in keys)
                {
                    w.WriteString(key, metadata[key]);
                }

                w.WriteEndObject();
            }

            long offset = 0;
            for (int i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i] ?? throw new ArgumentException($"tensor {i} is null", nameof(tensors));
                if (t.Name == MetadataKey)
                {
                    throw new ArgumentException($"'{MetadataKey}' is reserved and cannot name a tensor", nameof(tensors));
                }

                if (!names.Add(t.Name))
                {
                    throw new ArgumentException($"duplicate tensor name '{Echo.Of(t.Name)}'", nameof(tensors));
                }

                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.ToHeaderString());
                w.WriteStartArray("shape");
                foreach (long d in t.Shape)
                {
                    w.WriteNumberValue(d);
                }

                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += t.Data.LongLength;
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        int len = buffer.WrittenCount;
        int padded = (len + 7) & ~7;
        var result = new byte[padded];
        buffer.WrittenSpan.CopyTo(result);
        result.AsSpan(len).Fill((byte)' ');
        return result;
    }

    private static (List<TensorEntry> Tensors, Dictionary<string, string> Metadata) ParseHeaderJson(ReadOnlySpan<byte> json)
    {
        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            throw new SafetensorsFormatException("header is not valid UTF-8");
        }

        var tensors = new List<TensorEntry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        Dictionary<string, string>? metadata = null;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new SafetensorsFormatException("header is not a JSON object");
            }

            while (true)
            {
                Next(ref reader);
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    break;
                }

                string name = ReadString(ref reader, "a tensor name");
                Next(ref reader);
                if (name == MetadataKey)
                {
                    if (metadata is not null)
                    {
                        throw new SafetensorsFormatException($"duplicate '{MetadataKey}' entry in header");
                    }

                    metadata = ParseMetadata(ref reader);
                    continue;
                }

                if (!names.Add(name))
                {
                    throw new SafetensorsFormatException($"duplicate tensor name '{Echo.Of(name)}' in header");
                }

                tensors.Add(ParseTensor(ref reader, name));
            }

            if (reader.Read())
            {
                throw new SafetensorsFormatException("header has content after the JSON object");
            }
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException($"header is not valid JSON: {e.Message}");
        }

        return (tensors, metadata ?? new Dictionary<string, string>(StringComparer.Ordinal));
    }

    /// <summary>A JSON string as text; an escaped lone surrogate (<c>\ud800</c>) is valid JSON but no valid text.</summary>
    private static string ReadString(ref Utf8JsonReader reader, string what)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new SafetensorsFormatException(
                $"header is not valid: {what} escapes half of a UTF-16 surrogate pair (such as \\ud800 alone), which is no character; write names and values as plain UTF-8");
        }
    }

    private static void Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw new SafetensorsFormatException("header is not valid JSON: unexpected end of header");
        }
    }

    private static Dictionary<string, string> ParseMetadata(ref Utf8JsonReader reader)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (reader.TokenType == JsonTokenType.Null)
        {
            return metadata;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new SafetensorsFormatException($"'{MetadataKey}' must be an object of strings, found {Describe(reader.TokenType)}");
        }

        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return metadata;
            }

            string key = ReadString(ref reader, $"a '{MetadataKey}' key");
            Next(ref reader);
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new SafetensorsFormatException($"'{MetadataKey}' value for key '{Echo.Of(key)}' must be a string, found {Describe(reader.TokenType)}");
            }

            if (!metadata.TryAdd(key, ReadString(ref reader, $"'{MetadataKey}' value of '{Echo.Of(key)}'")))
            {
                throw new SafetensorsFormatException($"'{MetadataKey}' has duplicate key '{Echo.Of(key)}'");
            }
        }
    }

    private static TensorEntry ParseTensor(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': entry must be an object, found {Describe(reader.TokenType)}");
        }

        TensorDType? dtype = null;
        List<long>? shape = null;
        long begin = -1, end = -1;
        bool haveOffsets = false;
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }

            string field = ReadString(ref reader, $"a field name of tensor '{Echo.Of(name)}'");
            Next(ref reader);
            switch (field)
            {
                case "dtype":
                    if (dtype is not null)
                    {
                        throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': duplicate field 'dtype'");
                    }

                    if (reader.TokenType != JsonTokenType.String)
                    {
                        throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': dtype must be a string, found {Describe(reader.TokenType)}");
                    }

                    string text = ReadString(ref reader, $"the dtype of tensor '{Echo.Of(name)}'");
                    if (!TensorDTypeExtensions.TryParseHeaderString(text, out var parsed))
                    {
                        throw new SafetensorsFormatException(
                            $"tensor '{Echo.Of(name)}': unknown dtype '{Echo.Of(text)}' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
                    }

                    dtype = parsed;
                    break;

                case "shape":
                    if (shape is not null)
                    {
                        throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': duplicate field 'shape'");
                    }

                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': shape must be an array of integers, found {Describe(reader.TokenType)}");
                    }

                    shape = new List<long>(4);
                    while (true)
                    {
                        Next(ref reader);
                        if (reader.TokenType == JsonTokenType.EndArray)
                        {
                            break;
                        }

                        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long dim))
                        {
                            throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': shape dimension {shape.Count} is not an integer");
                        }

                        if (dim < 0)
                        {
                            throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': shape dimension {shape.Count} is negative ({dim})");
                        }

                        shape.Add(dim);
                    }

                    break;

                case "data_offsets":
                    if (haveOffsets)
                    {
                        throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': duplicate field 'data_offsets'");
                    }

                    haveOffsets = true;
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': data_offsets must be [begin, end], found {Describe(reader.TokenType)}");
                    }

                    int count = 0;
                    while (true)
                    {
                        Next(ref reader);
                        if (reader.TokenType == JsonTokenType.EndArray)
                        {
                            break;
                        }

                        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0)
                        {
                            throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': data_offsets must be two non-negative integers [begin, end]");
                        }

                        if (count == 0)
                        {
                            begin = v;
                        }
                        else if (count == 1)
                        {
                            end = v;
                        }

                        count++;
                    }

                    if (count != 2)
                    {
                        throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': data_offsets must be [begin, end], found {count} values");
                    }

                    if (begin > end)
                    {
                        throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': data_offsets [{begin}, {end}] have begin > end");
                    }

                    break;

                default:
                    // Unknown per-tensor fields are ignored, as other readers do.
                    reader.Skip();
                    break;
            }
        }

        if (dtype is null)
        {
            throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': missing field 'dtype'");
        }

        if (shape is null)
        {
            throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': missing field 'shape'");
        }

        if (!haveOffsets)
        {
            throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': missing field 'data_offsets'");
        }

        long[] dims = shape.ToArray();
        long expectedBytes;
        try
        {
            long elements = 1;
            foreach (long d in dims)
            {
                elements = checked(elements * d);
            }

            expectedBytes = checked(elements * dtype.Value.SizeInBytes());
        }
        catch (OverflowException)
        {
            throw new SafetensorsFormatException($"tensor '{Echo.Of(name)}': shape {NamedTensor.FormatShape(dims)} is too large");
        }

        if (end - begin != expectedBytes)
        {
            throw new SafetensorsFormatException(
                $"tensor '{Echo.Of(name)}': data_offsets [{begin}, {end}] span {end - begin} bytes but {dtype.Value.ToHeaderString()} shape {NamedTensor.FormatShape(dims)} needs {expectedBytes} bytes (size mismatch)");
        }

        return new TensorEntry(name, dtype.Value, dims, begin, end);
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    private static void ReadExactlyOrThrow(Stream stream, Span<byte> buffer, string what)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0)
            {
                throw new SafetensorsFormatException($"unexpected end of file while reading the {what} ({total} of {buffer.Length} bytes)");
            }

            total += n;
        }
    }
}
